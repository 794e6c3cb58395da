"""Bring sessions over from a starsessions ``RedisStore``, so that existing cookies keep working.

starsessions keeps each session as JSON under ``prefix + session_id`` (``starsessions.`` and
``secrets.token_hex(16)`` by default), with its own bookkeeping under ``"__metadata__"``;
the cookie holds the bare id. `import_starsessions` writes each one where
`ServerSessionMiddleware` looks for that same id
(the SHA-256 of the id under ``key_prefix``), so a browser's existing cookie finds its
session once the middleware reads the starsessions cookie name (``cookie_name="session"``).

It is a dry run unless ``apply=True``, never changes or deletes the source, and is
idempotent: a session already imported is left as it is (and counted), so running it again,
or after the switch, does not overwrite what users have written since.
"""

from __future__ import annotations

import json
import time
from typing import Any

import attrs
from redis.asyncio import Redis

from .._async.protocol import AsyncSessionStore
from ..entry import TTL, to_seconds
from ..errors import ConfigurationError
from ._web_records import KNOWN_ID, new_record, session_key

__all__ = ["StarsessionsImport", "import_starsessions"]

_METADATA = "__metadata__"


@attrs.frozen
class StarsessionsImport:
    """What an import found and did (or, in a dry run, would do)."""

    #: Keys under the source prefix.
    found: int = 0
    #: Sessions written (dry run: that would be written).
    imported: int = 0
    #: Sessions already in the target store (imported before): left untouched.
    already_present: int = 0
    #: Sessions past ``absolute_timeout`` or gone while the import ran: not written.
    expired: int = 0
    #: Keys that are no starsessions session (another id format, not a JSON object, empty).
    skipped: int = 0
    #: Whether nothing was written.
    dry_run: bool = True


async def import_starsessions(
    source: Redis,
    store: AsyncSessionStore,
    *,
    source_prefix: str = "starsessions.",
    key_prefix: str = "~websession:",
    idle_timeout: TTL = 30 * 60,
    absolute_timeout: TTL | None = None,
    restart_absolute_timeout: bool = False,
    apply: bool = False,
    batch_size: int = 500,
) -> StarsessionsImport:
    """Copy the starsessions sessions in ``source`` into ``store`` as cookie sessions.

    ``source``: a ``redis.asyncio.Redis`` client of the starsessions server;
    ``source_prefix``: its ``RedisStore(prefix=...)`` (a string prefix). ``key_prefix``,
    ``idle_timeout`` and ``absolute_timeout``: the ``ServerSessionMiddleware`` settings
    that will serve them. An imported session keeps its remaining starsessions lifetime,
    capped at ``idle_timeout``; its absolute timeout counts from its starsessions creation
    time, or from the import with ``restart_absolute_timeout=True``. Sessions already past
    ``absolute_timeout`` are not imported. ``apply=False`` (the default) writes nothing and
    reports what would happen.
    """
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigurationError(f"batch_size must be a positive integer, not {batch_size!r}")
    idle = to_seconds(idle_timeout)
    absolute = None if absolute_timeout is None else to_seconds(absolute_timeout)
    settings = _Settings(source_prefix, key_prefix, idle, absolute, restart_absolute_timeout, apply)
    counts = {"found": 0, "imported": 0, "already_present": 0, "expired": 0, "skipped": 0}
    pattern = _glob_escape(source_prefix) + "*"
    batch: list[bytes] = []
    async for name in source.scan_iter(match=pattern, count=batch_size):
        batch.append(name)
        if len(batch) >= batch_size:
            await _import_batch(source, store, batch, counts, settings)
            batch = []
    if batch:
        await _import_batch(source, store, batch, counts, settings)
    return StarsessionsImport(**counts, dry_run=not apply)


@attrs.frozen
class _Settings:
    source_prefix: str
    key_prefix: str
    idle: float
    absolute: float | None
    restart: bool
    apply: bool


async def _import_batch(
    source: Redis,
    store: AsyncSessionStore,
    names: list[bytes],
    counts: dict[str, int],
    settings: _Settings,
) -> None:
    async with source.pipeline(transaction=False) as pipe:  # one round trip per batch
        for name in names:
            pipe.get(name)
            pipe.pttl(name)
        replies = await pipe.execute()
    now = time.time()
    for index, name in enumerate(names):
        counts["found"] += 1
        raw, pttl = replies[2 * index], replies[2 * index + 1]
        session_id = name.decode("utf-8", "replace")[len(settings.source_prefix) :]
        parsed = _session(raw) if KNOWN_ID.fullmatch(session_id) else None
        if parsed is None:
            counts["skipped" if raw is not None else "expired"] += 1
            continue
        data, created = parsed
        created_at = now if settings.restart or created is None else created
        remaining = settings.idle if pttl == -1 else pttl / 1000  # -1: no expiry, -2: gone
        if settings.absolute is not None:
            remaining = min(remaining, created_at + settings.absolute - now)
        ttl = min(settings.idle, remaining)
        if ttl <= 0:
            counts["expired"] += 1
            continue
        key = session_key(settings.key_prefix, session_id)
        if settings.apply:
            written = await store.create(key, new_record(data, created_at), ttl)
        else:
            written = not await store.exists(key)
        counts["imported" if written else "already_present"] += 1


def _session(raw: bytes | None) -> tuple[dict[str, Any], float | None] | None:
    """(data, creation time) of a starsessions value, or ``None`` if it is not one."""
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(value, dict):
        return None
    metadata = value.pop(_METADATA, None)
    if not value:
        return None  # starsessions deletes empty sessions; nothing worth a cookie here
    created = metadata.get("created") if isinstance(metadata, dict) else None
    if isinstance(created, bool) or not isinstance(created, int | float):
        created = None
    return value, created


def _glob_escape(text: str) -> str:
    return "".join("\\" + char if char in "*?[]\\" else char for char in text)
