"""Namespaces with the helpers of their session kind: admin wizards and conversations."""

from __future__ import annotations

from typing import Any

import cattrs

from ..._async.protocol import AsyncSessionStore
from ...clock import Clock, system_clock
from ...errors import SessionNotFound
from ...namespaces._async.namespace import AsyncNamespace
from ...namespaces.keyspace import SessionId
from ...namespaces.model import default_converter
from ...namespaces.policy import TTLPolicy
from ..models import (
    ADMIN_POLICY,
    CONVERSATION_POLICY,
    AdminSession,
    Conversation,
    WizardError,
    WizardFlow,
    advance_wizard,
    back_wizard,
    start_wizard,
    with_message,
)

__all__ = ["AsyncAdminSessions", "AsyncConversations"]


class AsyncAdminSessions(AsyncNamespace[AdminSession]):
    """Admin wizards, one per user id: start, advance, back, finish, cancel, pending.

    Each step is one atomic update, and the session lives in the store, so a wizard
    resumes where it was after the bot restarts and times out with the namespace's TTL.
    """

    def __init__(
        self,
        store: AsyncSessionStore,
        name: str = "admin",
        *,
        policy: TTLPolicy = ADMIN_POLICY,
        tenant: SessionId | None = None,
        clock: Clock = system_clock,
        converter: cattrs.Converter = default_converter,
    ) -> None:
        super().__init__(
            store, name, AdminSession, policy=policy, tenant=tenant, clock=clock,
            converter=converter,
        )

    async def start(
        self, user_id: int, flow: WizardFlow, data: dict[str, Any] | None = None
    ) -> AdminSession:
        """Start ``flow`` for ``user_id`` at its first step, replacing any wizard in progress."""
        session = start_wizard(flow, user_id, self._clock.now(), self.policy.initial_ttl(), data)
        await self.put(user_id, session)
        return session

    async def current(self, user_id: int, flow: WizardFlow | None = None) -> AdminSession | None:
        """The user's wizard (only if it is ``flow``, when given), or ``None``."""
        session = await self.get(user_id)
        if session is None or (flow is not None and session.flow != flow.name):
            return None
        return session

    async def advance(
        self, user_id: int, value: Any = None, *, flow: WizardFlow | None = None, **data: Any
    ) -> AdminSession:
        """Record ``value`` for the current step and move on; `SessionNotFound` if none.

        With ``flow``, a wizard of another flow (a stale button) is a `WizardError`.
        """
        return await self.update(
            user_id, lambda session: advance_wizard(_checked(session, flow), value, **data)
        )

    async def back(self, user_id: int, *, flow: WizardFlow | None = None) -> AdminSession:
        """Go back one step."""
        return await self.update(user_id, lambda session: back_wizard(_checked(session, flow)))

    async def finish(self, user_id: int, *, flow: WizardFlow | None = None) -> AdminSession:
        """End the wizard at its last step: delete it and return it (its ``data`` is the result).

        `WizardError` if it is not at its last step (nothing is deleted). Only one of
        several concurrent calls wins (the one whose delete removed the session); the others
        raise `SessionNotFound`, so a tariff is not created twice. The read and the
        delete are two operations: a `start` for the same user landing between them
        is deleted too (see "Known limits" in docs/namespaces.md).
        """
        session = await self.get(user_id)
        if session is None:
            raise SessionNotFound(self.key(user_id))
        _checked(session, flow)
        if not session.is_last_step:
            raise WizardError(
                f"{session.flow} of user {user_id} is at step {session.step!r}, not at its last "
                f"step {session.steps[-1]!r}: it cannot finish yet"
            )
        if not await self.delete(user_id):  # another finish (or cancel) won the race
            raise SessionNotFound(self.key(user_id))
        return session

    async def cancel(self, user_id: int) -> bool:
        """Drop the user's wizard, whatever its step; return whether there was one."""
        return await self.delete(user_id)

    async def pending(self, flow: WizardFlow) -> set[int]:
        """The users with a ``flow`` wizard in progress (a bot's "pending" sets)."""
        ids = [user_id async for user_id in self.ids()]
        sessions = await self.get_many(ids)
        return {session.user_id for session in sessions.values() if session.flow == flow.name}

    async def is_pending(self, user_id: int, flow: WizardFlow) -> bool:
        """Whether ``user_id`` has a ``flow`` wizard in progress."""
        return await self.current(user_id, flow) is not None


class AsyncConversations(AsyncNamespace[Conversation]):
    """Chat threads by thread id: a 2 h TTL renewed on every write, capped at 24 h."""

    def __init__(
        self,
        store: AsyncSessionStore,
        name: str = "conversations",
        *,
        policy: TTLPolicy = CONVERSATION_POLICY,
        tenant: SessionId | None = None,
        clock: Clock = system_clock,
        converter: cattrs.Converter = default_converter,
    ) -> None:
        super().__init__(
            store, name, Conversation, policy=policy, tenant=tenant, clock=clock,
            converter=converter,
        )

    async def append(
        self,
        thread_id: SessionId,
        message: dict[str, Any],
        *,
        usage: dict[str, int] | None = None,
    ) -> Conversation:
        """Atomically add ``message`` (and token ``usage``), creating the thread if new."""
        now = self._clock.now()
        return await self.update(
            thread_id,
            lambda conversation: with_message(conversation, message, now, usage),
            default=Conversation(),
        )


def _checked(session: AdminSession, flow: WizardFlow | None) -> AdminSession:
    if flow is not None and session.flow != flow.name:
        raise WizardError(
            f"user {session.user_id} is in {session.flow}, not {flow.name}: nothing was changed"
        )
    return session
