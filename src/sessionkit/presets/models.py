"""The session kinds of the apps sessionkit was built for, as attrs classes with default TTLs.

A document-processing API (FastAPI; 24 h absolute TTL): `TemplateSession`,
`DocumentSession`, `ExtractionResult`, `CancellationSession`,
`GeneratedDocument`. Each has the fields the app reads by name and a ``data`` dict
for the rest.

A Telegram bot's admin wizards (10 min absolute TTL): `AdminSession`,
one per user, walking the steps of a `WizardFlow`. The step logic is here, as pure
functions of a session; the namespace (``AdminSessions``) applies them atomically.

A chat app (2 h TTL renewed on every write, at most 24 h): `Conversation`.

```pycon
>>> session = start_wizard(TARIFF_CREATION, user_id=42, now=0.0, ttl=600.0)
>>> session = advance_wizard(advance_wizard(session, 990), 30)
>>> session.step, session.data
('name', {'price': 990, 'duration': 30})
>>> back_wizard(session).step
'duration'

```
"""

from __future__ import annotations

from typing import Any

import attrs

from ..errors import SessionKitError
from ..namespaces.policy import TTLPolicy

__all__ = [
    "ADMIN_POLICY",
    "CHANNEL_REGISTRATION",
    "CONVERSATION_POLICY",
    "DOCUMENT_APP_POLICY",
    "TARIFF_CREATION",
    "TARIFF_EDIT",
    "AdminSession",
    "CancellationSession",
    "Conversation",
    "DocumentSession",
    "ExtractionResult",
    "GeneratedDocument",
    "TemplateSession",
    "WizardError",
    "WizardFlow",
    "advance_wizard",
    "back_wizard",
    "start_wizard",
    "with_message",
]

HOUR = 3600.0

#: The document app's sessions live 24 h from their creation.
DOCUMENT_APP_POLICY = TTLPolicy.absolute(24 * HOUR)
#: Admin wizards time out 10 minutes after they start.
ADMIN_POLICY = TTLPolicy.absolute(600)
#: Conversations: 2 h renewed on every write, never longer than 24 h in total.
CONVERSATION_POLICY = TTLPolicy.sliding(2 * HOUR, on_read=False, max_lifetime=24 * HOUR)


# -- the document app --------- -------------------------------------------------------------


@attrs.define
class TemplateSession:
    """An uploaded template waiting to be confirmed and used."""

    filename: str | None = None
    status: str = "uploaded"
    placeholders: list[str] = attrs.Factory(list)
    data: dict[str, Any] = attrs.Factory(dict)


@attrs.define
class DocumentSession:
    """Documents uploaded for one processing session, by category."""

    categorized_files: list[dict[str, Any]] = attrs.Factory(list)
    file_urls: list[str] = attrs.Factory(list)
    status: str = "uploaded"
    data: dict[str, Any] = attrs.Factory(dict)


@attrs.define
class ExtractionResult:
    """What OCR and the AI extracted from a document session, and the user's edits."""

    ocr_data: dict[str, Any] = attrs.Factory(dict)
    ai_extracted_data: dict[str, Any] | None = None
    edited_data: dict[str, Any] | None = None
    data: dict[str, Any] = attrs.Factory(dict)


@attrs.define
class CancellationSession:
    """A cancellation request's files and validation outcome."""

    files: list[dict[str, Any]] = attrs.Factory(list)
    status: str = "uploaded"
    validation: dict[str, Any] | None = None
    data: dict[str, Any] = attrs.Factory(dict)


@attrs.define
class GeneratedDocument:
    """A generated document, ready to download or send."""

    filename: str | None = None
    template_id: str | None = None
    url: str | None = None
    emailed_to: list[str] = attrs.Factory(list)
    data: dict[str, Any] = attrs.Factory(dict)


# -- admin wizards --------- -----------------------------------------------------------------


class WizardError(SessionKitError, ValueError):
    """A wizard step was asked for that its flow does not allow (back from the first step...)."""


@attrs.frozen
class WizardFlow:
    """A named sequence of steps; the last one is usually a confirmation."""

    name: str
    steps: tuple[str, ...]

    def __attrs_post_init__(self) -> None:
        if not self.steps or len(set(self.steps)) != len(self.steps):
            raise ValueError(f"a wizard flow has distinct steps, at least one: {self.steps!r}")


#: "Create a tariff": price, then duration, then name, then confirm.
TARIFF_CREATION = WizardFlow("tariff_creation", ("price", "duration", "name", "confirm"))
#: "Edit a tariff": start with ``{"tariff_id": ..., "field": ...}``, then the new value.
TARIFF_EDIT = WizardFlow("tariff_edit", ("value", "confirm"))
#: "Register a channel": the forwarded message or id, then confirm (the "pending set").
CHANNEL_REGISTRATION = WizardFlow("channel_registration", ("channel", "confirm"))


@attrs.define
class AdminSession:
    """One admin's wizard in progress: which flow, which step, what was entered so far."""

    user_id: int
    flow: str
    steps: list[str]  # stored with the session, so it resumes after a restart as it was
    step: str
    started_at: float
    expires_at: float | None = None
    data: dict[str, Any] = attrs.Factory(dict)

    @property
    def is_last_step(self) -> bool:
        return self.step == self.steps[-1]


def start_wizard(
    flow: WizardFlow,
    user_id: int,
    now: float,
    ttl: float | None,
    data: dict[str, Any] | None = None,
) -> AdminSession:
    """A new session at the first step of ``flow``."""
    return AdminSession(
        user_id=user_id,
        flow=flow.name,
        steps=list(flow.steps),
        step=flow.steps[0],
        started_at=now,
        expires_at=None if ttl is None else now + ttl,
        data=dict(data or {}),
    )


def advance_wizard(session: AdminSession, value: Any = None, **data: Any) -> AdminSession:
    """Record ``value`` for the current step (and any ``data``), then move to the next step."""
    if session.step not in session.steps:
        raise WizardError(f"step {session.step!r} is not one of {session.steps!r}")
    if session.is_last_step:
        raise WizardError(
            f"{session.flow} of user {session.user_id} is at its last step "
            f"({session.step!r}): finish or cancel it"
        )
    entered = {session.step: value} if value is not None else {}
    following = session.steps[session.steps.index(session.step) + 1]
    return attrs.evolve(session, step=following, data={**session.data, **data, **entered})


def back_wizard(session: AdminSession) -> AdminSession:
    """Move to the previous step (what was entered there is kept until overwritten)."""
    index = session.steps.index(session.step) if session.step in session.steps else 0
    if index == 0:
        raise WizardError(
            f"{session.flow} of user {session.user_id} is at its first step: nothing to go back to"
        )
    return attrs.evolve(session, step=session.steps[index - 1])


# -- conversations --------- -------------------------------------------------------------------


@attrs.define
class Conversation:
    """A chat thread: its messages, token usage and last activity (epoch seconds)."""

    messages: list[dict[str, Any]] = attrs.Factory(list)
    usage: dict[str, int] = attrs.Factory(dict)
    last_activity: float = 0.0
    status: str = "active"
    metadata: dict[str, Any] = attrs.Factory(dict)


def with_message(
    conversation: Conversation,
    message: dict[str, Any],
    now: float,
    usage: dict[str, int] | None = None,
) -> Conversation:
    """``conversation`` with ``message`` appended, ``usage`` added up and activity at ``now``."""
    total = dict(conversation.usage)
    for name, tokens in (usage or {}).items():
        total[name] = total.get(name, 0) + tokens
    return attrs.evolve(
        conversation,
        messages=[*conversation.messages, dict(message)],
        usage=total,
        last_activity=now,
    )
