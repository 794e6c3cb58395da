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

* ids come from `secrets.token_urlsafe` (256 bits) and are stored hashed (SHA-256),
  so reading the store does not reveal a usable id;
* an id the server does not know (made up, tampered with, expired, logged out) is never
  adopted: such a request starts with an empty session, and a new id is issued only when
  the session gets data (so anonymous traffic stores nothing);
* `ServerSession.rotate` moves the data to a new id and deletes the old one before
  the response is sent; `ServerSession.invalidate` deletes the session;
* a request that does not change the session writes nothing back; its expiry is slid
  with a TTL-only ``touch`` at most once per ``refresh_interval``;
* a changed session is written as a diff of its top-level keys in one atomic ``merge``
  (with the load, two store round trips), so two concurrent requests changing different
  keys both keep their change; a change or a rotation made by a request whose session a
  concurrent request deleted or rotated is dropped: the old id never comes back;
* idle timeout (the store entry's TTL, renewed on activity) and absolute timeout (from
  creation, never renewed). Because reads slide the expiry at most once per
  ``refresh_interval``, a user is logged out after between ``idle_timeout -
  refresh_interval`` and ``idle_timeout`` seconds without a request; ``refresh_interval``
  is at most half of ``idle_timeout`` (checked at startup);
* keys start with ``~`` (``~websession:`` by default), outside every namespace's key space:
  `AsyncSessionManager.stats()` and
  ``purge()`` neither count nor delete web sessions.

WebSocket connections get the session read-only: it is loaded (and its expiry slid) when
the connection opens, but changes are not saved, and `ServerSession.rotate` and
`ServerSession.invalidate` raise `RuntimeError`.
"""

from __future__ import annotations

import json
import logging
import math
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
from ..errors import ConfigurationError, InvalidKey
from ..keys import validate_prefix
from ._web_records import CREATED, KNOWN_ID, new_record, patch_fields, record_data, session_key

__all__ = ["ServerSession", "ServerSessionMiddleware"]

logger = logging.getLogger(__name__)

#: Random bytes per session id (256 bits; at least 128 are required).
ID_BYTES = 32
#: A read does not touch the store to gain less than this many seconds of expiry (the
#: backends' expiry instants are not exact to the microsecond).
_TOUCH_SLACK = 1.0
_PLAIN_SCHEMES = ("http", "ws")


class ServerSession(dict[str, Any]):
    """The session of one request: a dict, plus `rotate` and `invalidate`.

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
    `AsyncSessionManager` that
    `sessionkit.integrations.fastapi.sessionkit_lifespan` put on ``app.state``.
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

    ``secure``: ``True`` (always ``Secure``; the first such cookie sent over plain http logs
    one warning on this module's logger, since browsers drop it there), ``"auto"``
    (``Secure`` only on https requests: for local development; behind a TLS proxy the
    server must see the https scheme) or ``False``.
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
        secure: bool | Literal["auto"] = True,
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
        if secure not in (True, False, "auto"):
            raise ConfigurationError(f"secure is True, False or 'auto', not {secure!r}")
        if same_site == "none" and secure is not True:
            raise ConfigurationError(
                "browsers drop SameSite=None cookies that are not Secure: use secure=True"
            )
        self.secure = secure
        self._warned_plain_http = False
        self.key_prefix = key_prefix
        self.max_age = None if max_age is None else int(max_age)
        self.clock = clock
        scope_flags = [f"Path={path}", *([f"Domain={domain}"] if domain else [])]
        self._flags_before_max_age = "; ".join(scope_flags)
        # The flags after Max-Age, and those of an expired cookie, without and with Secure.
        self._flags_after_max_age: dict[bool, str] = {}
        self._expire_flags: dict[bool, str] = {}
        for with_secure in (False, True):
            other_flags = [
                *(["HttpOnly"] if http_only else []),
                *(["Secure"] if with_secure else []),
                f"SameSite={same_site.capitalize()}",
            ]
            self._flags_after_max_age[with_secure] = "; ".join(other_flags)
            self._expire_flags[with_secure] = "; ".join([*scope_flags, "Max-Age=0", *other_flags])

    def store_key(self, session_id: str) -> str:
        """The store key of a session id (its hash: ids are not readable from the store)."""
        return session_key(self.key_prefix, session_id)

    def _secure_for(self, scope: Scope) -> bool:
        """Whether this response's cookie gets ``Secure`` (``"auto"``: only over https)."""
        if self.secure == "auto":
            return scope.get("scheme") not in _PLAIN_SCHEMES
        return bool(self.secure)

    def _warn_if_dropped(self, scope: Scope, set_cookie: str) -> None:
        """Say once why a browser over plain http starts a new session on every request."""
        if self._warned_plain_http or self.secure is not True:
            return
        if scope.get("scheme") not in _PLAIN_SCHEMES or "Max-Age=0" in set_cookie:
            return
        self._warned_plain_http = True
        logger.warning(
            "ServerSessionMiddleware sent a Secure session cookie over plain http (%s): "
            "browsers other than on localhost drop it, so every request starts a new "
            "session. For local development pass secure='auto'; behind a TLS proxy, let "
            "the server see the https scheme (uvicorn --proxy-headers "
            "--forwarded-allow-ips=...).",
            scope.get("path", "?"),
        )

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
                    secure = self._secure_for(scope)
                    header = set_cookie(secure)
                    if secure:
                        self._warn_if_dropped(scope, header)
                    MutableHeaders(scope=message).append("Set-Cookie", header)
            await send(message)

        await self.app(scope, receive, send_with_cookie)

    async def _load(
        self, store: AsyncSessionStore, cookie: str | None, *, read_only: bool = False
    ) -> tuple[ServerSession, str, bool]:
        """The session a cookie names, in one store round trip (value and expiry at once)."""
        empty = ServerSession({}, session_id=None, created_at=None, read_only=read_only)
        if cookie is None or not KNOWN_ID.fullmatch(cookie):
            return empty, "{}", False  # no id, or one we could never have issued
        entry = await store.get_entry(self.store_key(cookie))
        loaded = None if entry is None else record_data(entry.value)
        if entry is None or loaded is None:
            return empty, "{}", False  # unknown, expired or half-deleted: never adopted
        data, created_at = loaded
        now = self.clock.now()
        if now >= created_at + self.absolute_timeout:
            await store.delete(self.store_key(cookie))
            return empty, "{}", False
        session = ServerSession(data, session_id=cookie, created_at=created_at, read_only=read_only)
        needs_touch = self._needs_touch(entry.expires_at, created_at, now)
        return session, _encoded(data), needs_touch

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
        snapshot: str,
        needs_touch: bool,
    ) -> _CookieHeader | None:
        """Write what changed; return the Set-Cookie header to send, if any.

        Store round trips, the load included: a read 1 (2 when its touch is due, at most
        once per ``refresh_interval``), a change 2, a new session 1, a logout 2, a rotation 3.
        """
        old_id = session.id
        now = self.clock.now()
        if session._invalidate:
            if old_id is not None:
                await store.delete(self.store_key(old_id))
            if session:  # written after invalidate() (a "logged out" notice): a new session
                new_id = await self._create(store, dict(session), now, self.idle_timeout)
                return self._cookie(new_id, now)
            return self._expired_cookie() if cookie is not None else None
        created_at = session._created_at if session._created_at is not None else now
        ttl = self._ttl(created_at)
        if old_id is None:
            if not session:  # nothing to keep: store nothing, and drop a bad cookie
                return self._expired_cookie() if cookie is not None else None
            new_id = await self._create(store, dict(session), now, self.idle_timeout)
            return self._cookie(new_id, now)
        if ttl is None:  # hit the absolute timeout during the request
            await store.delete(self.store_key(old_id))
            return self._expired_cookie()
        # From here on, a session found gone was deleted or rotated by a concurrent request
        # (logout, login): nothing is kept, and no cookie is sent, since expiring the
        # cookie could drop the new id that concurrent request just gave the browser.
        if session._rotate:
            _encoded(session)  # a value JSON cannot hold fails before anything is deleted
            if not await store.delete(self.store_key(old_id)):  # the old id dies first
                return None
            rotated = await self._create(store, dict(session), created_at, ttl)
            return self._cookie(rotated, created_at)
        if _encoded(session) != snapshot:
            before = _by_key(json.loads(snapshot))
            after = _by_key(session)
            changed = {
                name: session[name] for name, text in after.items() if before.get(name) != text
            }
            removed = [name for name in before if name not in after]
            if changed or removed:  # not just the same keys in another order
                patch = patch_fields(changed, removed)
                written = await self._write_diff(store, old_id, patch, ttl)
                return self._renewed_cookie(old_id, created_at) if written else None
        if needs_touch and await store.touch(self.store_key(old_id), ttl):
            return self._renewed_cookie(old_id, created_at)
        return None

    async def _create(
        self, store: AsyncSessionStore, data: dict[str, Any], created_at: float, ttl: float
    ) -> str:
        record = new_record(data, created_at)
        while True:  # a collision of 256-bit ids does not happen; the loop makes it harmless
            session_id = secrets.token_urlsafe(ID_BYTES)
            if await store.create(self.store_key(session_id), record, ttl):
                return session_id

    async def _write_diff(
        self,
        store: AsyncSessionStore,
        session_id: str,
        patch: dict[str, Any],
        ttl: float,
    ) -> bool:
        """Write this request's changes only, in one merge; ``False`` if the session is gone.

        A merge creates what is absent: landing on a session that a concurrent request
        deleted (logout) or rotated (login) leaves an entry without its creation time,
        which no request adopts and which is deleted here at once.
        """
        key = self.store_key(session_id)
        merged = await store.merge(key, patch, ttl)
        if CREATED not in merged:
            await store.delete(key)
            return False
        return True

    def _cookie(self, session_id: str, created_at: float) -> _CookieHeader:
        flags = [self._flags_before_max_age]
        if self.max_age is not None:
            # Never past the absolute timeout: the browser should not outlive the session.
            remaining = created_at + self.absolute_timeout - self.clock.now()
            flags.append(f"Max-Age={max(0, min(self.max_age, math.ceil(remaining)))}")
        start = f"{self.cookie_name}={session_id}; " + "; ".join(flags)
        return lambda secure: f"{start}; {self._flags_after_max_age[secure]}"

    def _renewed_cookie(self, session_id: str, created_at: float) -> _CookieHeader | None:
        """The same id again when the session was renewed, so the cookie's Max-Age restarts."""
        return None if self.max_age is None else self._cookie(session_id, created_at)

    def _expired_cookie(self) -> _CookieHeader:
        return lambda secure: f'{self.cookie_name}=""; {self._expire_flags[secure]}'


#: A Set-Cookie value, given whether it carries ``Secure`` (decided by the request scheme).
_CookieHeader = Callable[[bool], str]


def _encoded(data: dict[str, Any]) -> str:
    """The session as JSON text: the cheapest deep copy there is to see what a request
    changed, nested changes included. A value JSON cannot hold is checked by the codec, for
    its clearer error (naming the path inside the value)."""
    try:
        return json.dumps(data)
    except (TypeError, ValueError):
        check_value(data)
        raise


def _by_key(data: dict[str, Any]) -> dict[str, str]:
    """Each top-level value as JSON text (only for a session that changed)."""
    return {name: json.dumps(value) for name, value in data.items()}
