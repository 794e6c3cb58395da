"""Server-side cookie sessions for Starlette and FastAPI apps, kept in a sessionkit store.

The browser holds only a random session id; the data stays on the server. Install the
middleware, then use ``request.session`` as with Starlette's own (signed-cookie)
``SessionMiddleware``::

    app.add_middleware(ServerSessionMiddleware, idle_timeout=1800, absolute_timeout=43200)

    @app.post("/login")
    async def login(request: Request) -> dict[str, str]:
        request.session["user"] = "ana"
        request.session.rotate()  # privilege changed: new id, the old one dies now
        return {"ok": "yes"}

What it guarantees:

* ids come from :func:`secrets.token_urlsafe` (256 bits) and are stored hashed (SHA-256),
  so reading the store does not reveal a usable id;
* an id the server does not know (made up, tampered with, expired, logged out) is never
  adopted: such a request starts with an empty session, and a new id is issued only when
  the session gets data (so anonymous traffic stores nothing);
* :meth:`ServerSession.rotate` moves the data to a new id and deletes the old one before
  the response is sent; :meth:`ServerSession.invalidate` deletes the session;
* a request that does not change the session writes nothing back; its expiry is slid
  with a TTL-only ``touch`` at most once per ``refresh_interval``;
* a changed session is written as a diff of its top-level keys in one atomic ``update``,
  so two concurrent requests changing different keys both keep their change; a change or a
  rotation made by a request whose session a concurrent request deleted or rotated is
  dropped: the old id never comes back;
* idle timeout (the store entry's TTL, renewed on activity) and absolute timeout (from
  creation, never renewed). Because reads slide the expiry at most once per
  ``refresh_interval``, a user is logged out after between ``idle_timeout -
  refresh_interval`` and ``idle_timeout`` seconds without a request; ``refresh_interval``
  is at most half of ``idle_timeout`` (checked at startup);
* keys start with ``~`` (``~websession:`` by default), outside every namespace's key space:
  :meth:`AsyncSessionManager.stats() <sessionkit.manager.AsyncSessionManager.stats>` and
  ``purge()`` neither count nor delete web sessions.

WebSocket connections get the session read-only: it is loaded (and its expiry slid) when
the connection opens, but changes are not saved, and :meth:`ServerSession.rotate` and
:meth:`ServerSession.invalidate` raise :class:`RuntimeError`.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import secrets
from collections.abc import Callable
from typing import Any, Literal

from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .._async.protocol import AsyncSessionStore
from ..clock import Clock, system_clock
from ..codec import check_value
from ..entry import TTL, to_seconds
from ..errors import ConfigurationError, InvalidKey, SessionNotFound
from ..keys import validate_prefix

__all__ = ["ServerSession", "ServerSessionMiddleware"]

#: Random bytes per session id (256 bits; at least 128 are required).
ID_BYTES = 32
_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{43}")  # token_urlsafe(32): 43 url-safe characters
_MISSING = object()
#: A read does not touch the store to gain less than this many seconds of expiry (the
#: backends' expiry instants are not exact to the microsecond).
_TOUCH_SLACK = 1.0


class ServerSession(dict[str, Any]):
    """The session of one request: a dict, plus :meth:`rotate` and :meth:`invalidate`.

    Values must be JSON-compatible (the store checks before writing).
    """

    def __init__(
        self,
        data: dict[str, Any],
        *,
        session_id: str | None,
        created_at: float | None,
        read_only: bool = False,
    ) -> None:
        super().__init__(data)
        self._loaded_id = session_id
        self._created_at = created_at
        self._read_only = read_only
        self._rotate = False
        self._invalidate = False

    @property
    def read_only(self) -> bool:
        """Whether changes are dropped (a WebSocket connection: nothing is saved)."""
        return self._read_only

    @property
    def id(self) -> str | None:
        """The id the request came with (``None``: no valid session yet)."""
        return self._loaded_id

    @property
    def is_new(self) -> bool:
        """Whether the request came without a valid session."""
        return self._loaded_id is None

    def rotate(self) -> None:
        """Give the session a new id at the end of this request; the old id stops working.

        Call it whenever privilege changes (login, logout, role change): an id an attacker
        planted or saw before the change is then worthless.
        """
        self._check_writable("rotate")
        self._rotate = True

    def invalidate(self) -> None:
        """Delete the session at the end of this request (logout) and expire the cookie.

        Whatever is written to the session after this call starts a new session, with a new id.
        """
        self._check_writable("invalidate")
        self.clear()
        self._invalidate = True

    def _check_writable(self, action: str) -> None:
        if self._read_only:
            raise RuntimeError(
                f"cannot {action} the session of a WebSocket connection: it is read-only "
                "(do it in an HTTP request)"
            )


class ServerSessionMiddleware:
    """ASGI middleware keeping ``request.session`` in a sessionkit store.

    ``store``: the store, or ``None`` to use the store of the
    :class:`~sessionkit.manager.AsyncSessionManager` that
    :func:`sessionkit.integrations.fastapi.sessionkit_lifespan` put on ``app.state``.
    Sessions live under ``key_prefix`` + the SHA-256 of their id; the prefix starts with
    ``~``, so no namespace key can ever be the same (``ConfigurationError`` otherwise).

    ``idle_timeout``: seconds without a request before the session ends; ``absolute_timeout``:
    seconds from creation, never extended; ``refresh_interval``: a request that changes
    nothing slides the idle expiry only if that gains at least this many seconds, so at most
    one ``touch`` per interval. It is at most half of ``idle_timeout``
    (``ConfigurationError`` otherwise): a user is then logged out after between
    ``idle_timeout - refresh_interval`` and ``idle_timeout`` seconds of silence, never
    sooner than half the idle timeout.

    Cookie defaults are the safe ones: ``HttpOnly``, ``Secure``, ``SameSite=Lax``, no
    ``Max-Age`` (the browser drops it on exit; the server enforces the timeouts). With
    ``max_age``, the cookie is sent again each time the server renews the session (a write
    or a ``touch``), its ``Max-Age`` restarting then and never reaching past the absolute
    timeout, so the browser does not drop a cookie the server still honours.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        store: AsyncSessionStore | None = None,
        cookie_name: str = "session_id",
        idle_timeout: TTL = 30 * 60,
        absolute_timeout: TTL = 12 * 3600,
        refresh_interval: TTL = 60,
        key_prefix: str = "~websession:",
        path: str = "/",
        domain: str | None = None,
        secure: bool = True,
        http_only: bool = True,
        same_site: Literal["lax", "strict", "none"] = "lax",
        max_age: int | None = None,
        clock: Clock = system_clock,
    ) -> None:
        self.app = app
        self._store = store
        self.cookie_name = cookie_name
        self.idle_timeout = to_seconds(idle_timeout)
        self.absolute_timeout = to_seconds(absolute_timeout)
        self.refresh_interval = to_seconds(refresh_interval)
        if self.absolute_timeout < self.idle_timeout:
            raise ConfigurationError("absolute_timeout must be at least idle_timeout")
        if self.refresh_interval > self.idle_timeout / 2:
            raise ConfigurationError(
                f"refresh_interval ({self.refresh_interval:g} s) must be at most half of "
                f"idle_timeout ({self.idle_timeout:g} s): reads slide the expiry at most once "
                "per refresh_interval, so a longer one would log out users who are active"
            )
        if max_age is not None and (isinstance(max_age, bool) or not max_age > 0):
            raise ConfigurationError(f"max_age is a positive number of seconds, not {max_age!r}")
        try:
            validate_prefix(key_prefix)
        except InvalidKey as error:
            raise ConfigurationError(f"key_prefix: {error}") from None
        if not key_prefix.startswith("~"):
            raise ConfigurationError(
                f"key_prefix must start with '~' (like '~websession:'), not {key_prefix!r}: "
                "namespace keys never do, so web sessions cannot collide with them"
            )
        if same_site not in ("lax", "strict", "none"):
            raise ConfigurationError(f"same_site is lax, strict or none, not {same_site!r}")
        if same_site == "none" and not secure:
            raise ConfigurationError("browsers drop SameSite=None cookies that are not Secure")
        self.key_prefix = key_prefix
        self.max_age = None if max_age is None else int(max_age)
        self.clock = clock
        scope_flags = [f"Path={path}", *([f"Domain={domain}"] if domain else [])]
        other_flags = [
            *(["HttpOnly"] if http_only else []),
            *(["Secure"] if secure else []),
            f"SameSite={same_site.capitalize()}",
        ]
        self._flags_before_max_age = "; ".join(scope_flags)
        self._flags_after_max_age = "; ".join(other_flags)
        self._expire_flags = "; ".join([*scope_flags, "Max-Age=0", *other_flags])

    def store_key(self, session_id: str) -> str:
        """The store key of a session id (its hash: ids are not readable from the store)."""
        return self.key_prefix + hashlib.sha256(session_id.encode()).hexdigest()

    def _store_for(self, scope: Scope) -> AsyncSessionStore:
        if self._store is not None:
            return self._store
        manager = getattr(getattr(scope.get("app"), "state", None), "sessionkit", None)
        if manager is None:
            raise ConfigurationError(
                "ServerSessionMiddleware has no store: pass store=..., or open a manager "
                "with sessionkit_lifespan() so it is on app.state.sessionkit"
            )
        store: AsyncSessionStore = manager.store
        return store

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        store = self._store_for(scope)
        cookie = HTTPConnection(scope).cookies.get(self.cookie_name)
        if scope["type"] == "websocket":
            # Read-only: loaded (and slid) when the connection opens, never written back.
            session, _, needs_touch = await self._load(store, cookie, read_only=True)
            if needs_touch and session.id is not None and session._created_at is not None:
                ttl = self._ttl(session._created_at)
                if ttl is not None:
                    await store.touch(self.store_key(session.id), ttl)
            scope["session"] = session
            await self.app(scope, receive, send)
            return
        session, snapshot, needs_touch = await self._load(store, cookie)
        scope["session"] = session

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                set_cookie = await self._save(store, cookie, session, snapshot, needs_touch)
                if set_cookie is not None:
                    MutableHeaders(scope=message).append("Set-Cookie", set_cookie)
            await send(message)

        await self.app(scope, receive, send_with_cookie)

    async def _load(
        self, store: AsyncSessionStore, cookie: str | None, *, read_only: bool = False
    ) -> tuple[ServerSession, dict[str, Any], bool]:
        empty = ServerSession({}, session_id=None, created_at=None, read_only=read_only)
        if cookie is None or not _ID_PATTERN.fullmatch(cookie):
            return empty, {}, False  # no id, or one we could never have issued
        entry = await store.get_entry(self.store_key(cookie))
        if entry is None:
            return empty, {}, False  # unknown or expired: never adopted
        now = self.clock.now()
        created_at = float(entry.value.get("created_at", now))
        if now >= created_at + self.absolute_timeout:
            await store.delete(self.store_key(cookie))
            return empty, {}, False
        data = dict(entry.value.get("data") or {})
        session = ServerSession(data, session_id=cookie, created_at=created_at, read_only=read_only)
        needs_touch = self._needs_touch(entry.expires_at, created_at, now)
        return session, _snapshot(data), needs_touch

    def _needs_touch(self, expires_at: float | None, created_at: float, now: float) -> bool:
        """Whether a read should slide the expiry: only when that gains enough time.

        A touch moves the expiry to ``now + idle_timeout``, capped at the absolute timeout.
        It is worth a store write when it gains at least ``refresh_interval`` seconds (at
        most one touch per interval), or, once the cap is reached, when it moves the expiry
        to the cap: after that, nothing is gained and reads touch nothing.
        """
        if expires_at is None:
            return False
        end = created_at + self.absolute_timeout
        new_expiry = min(now + self.idle_timeout, end)
        gain = new_expiry - expires_at
        if gain >= self.refresh_interval:
            return True
        return new_expiry >= end and gain > _TOUCH_SLACK

    def _ttl(self, created_at: float) -> float | None:
        remaining = created_at + self.absolute_timeout - self.clock.now()
        return None if remaining <= 0 else min(self.idle_timeout, remaining)

    async def _save(
        self,
        store: AsyncSessionStore,
        cookie: str | None,
        session: ServerSession,
        snapshot: dict[str, Any],
        needs_touch: bool,
    ) -> str | None:
        """Write what changed; return the Set-Cookie header value to send, if any."""
        old_id = session.id
        now = self.clock.now()
        if session._invalidate:
            if old_id is not None:
                await store.delete(self.store_key(old_id))
            if session:  # written after invalidate() (a "logged out" notice): a new session
                new_id = await self._create(store, _snapshot(session), now, self.idle_timeout)
                return self._cookie(new_id, now)
            return self._expired_cookie() if cookie is not None else None
        created_at = session._created_at if session._created_at is not None else now
        ttl = self._ttl(created_at)
        current = _snapshot(session)
        changed = current != snapshot
        if old_id is None:
            if not session:  # nothing to keep: store nothing, and drop a bad cookie
                return self._expired_cookie() if cookie is not None else None
            new_id = await self._create(store, current, now, self.idle_timeout)
            return self._cookie(new_id, now)
        if ttl is None:  # hit the absolute timeout during the request
            await store.delete(self.store_key(old_id))
            return self._expired_cookie()
        # From here on, a session found gone was deleted or rotated by a concurrent request
        # (logout, login): nothing is written, and no cookie is sent, since expiring the
        # cookie could drop the new id that concurrent request just gave the browser.
        if session._rotate:
            rotated = await self._rotate(
                store, old_id, before=snapshot, after=current, created_at=created_at, ttl=ttl
            )
            return None if rotated is None else self._cookie(rotated, created_at)
        if changed:
            written = await self._write_diff(store, old_id, snapshot, current, ttl)
            return self._renewed_cookie(old_id, created_at) if written else None
        if needs_touch and await store.touch(self.store_key(old_id), ttl):
            return self._renewed_cookie(old_id, created_at)
        return None

    async def _rotate(
        self,
        store: AsyncSessionStore,
        old_id: str,
        *,
        before: dict[str, Any],
        after: dict[str, Any],
        created_at: float,
        ttl: float,
    ) -> str | None:
        """Move the session to a new id; ``None`` if a concurrent request already ended it.

        The old entry gets this request's changes first (keeping what concurrent requests
        wrote meanwhile), then is deleted; the new entry is created only if this request's
        delete is the one that removed it, so a session that a concurrent logout or
        rotation ended is never brought back under a new id.
        """
        old_key = self.store_key(old_id)
        try:
            record = await store.update(old_key, _diff_applier(before, after), ttl)
        except SessionNotFound:
            return None
        if not await store.delete(old_key):  # the old id is dead before we answer
            return None
        return await self._create(store, dict(record.get("data") or {}), created_at, ttl)

    async def _create(
        self, store: AsyncSessionStore, data: dict[str, Any], created_at: float, ttl: float
    ) -> str:
        record = {"data": data, "created_at": created_at}
        while True:  # a collision of 256-bit ids does not happen; the loop makes it harmless
            session_id = secrets.token_urlsafe(ID_BYTES)
            if await store.create(self.store_key(session_id), record, ttl):
                return session_id

    async def _write_diff(
        self,
        store: AsyncSessionStore,
        session_id: str,
        before: dict[str, Any],
        after: dict[str, Any],
        ttl: float,
    ) -> bool:
        """Apply this request's changes only, atomically; ``False`` if the session is gone."""
        try:
            await store.update(self.store_key(session_id), _diff_applier(before, after), ttl)
        except SessionNotFound:
            # Invalidated or rotated by a concurrent request (logout): do not resurrect it.
            return False
        return True

    def _cookie(self, session_id: str, created_at: float) -> str:
        flags = [self._flags_before_max_age]
        if self.max_age is not None:
            # Never past the absolute timeout: the browser should not outlive the session.
            remaining = created_at + self.absolute_timeout - self.clock.now()
            flags.append(f"Max-Age={max(0, min(self.max_age, math.ceil(remaining)))}")
        flags.append(self._flags_after_max_age)
        return f"{self.cookie_name}={session_id}; " + "; ".join(flags)

    def _renewed_cookie(self, session_id: str, created_at: float) -> str | None:
        """The same id again when the session was renewed, so the cookie's Max-Age restarts."""
        return None if self.max_age is None else self._cookie(session_id, created_at)

    def _expired_cookie(self) -> str:
        return f'{self.cookie_name}=""; {self._expire_flags}'


def _diff_applier(
    before: dict[str, Any], after: dict[str, Any]
) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """An update function applying the top-level changes from ``before`` to ``after``."""
    changed = {key: value for key, value in after.items() if before.get(key, _MISSING) != value}
    removed = [key for key in before if key not in after]

    def apply(record: dict[str, Any]) -> dict[str, Any]:
        data = dict(record.get("data") or {})
        data.update(changed)
        for key in removed:
            data.pop(key, None)
        return {**record, "data": data}

    return apply


def _snapshot(data: dict[str, Any]) -> dict[str, Any]:
    # A deep copy, so nested changes (session["cart"].append(...)) are seen. The codec's check
    # comes first: json.dumps alone would turn an int key into a str without a word.
    copied: dict[str, Any] = json.loads(json.dumps(check_value(data)))
    return copied
