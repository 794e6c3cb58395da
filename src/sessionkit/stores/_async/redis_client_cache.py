"""The async Redis store's reads through its client-side cache (the I/O half; the cache
itself, shared with the sync twin, is `sessionkit.stores._redis.client_cache`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._redis.client_cache import AsyncOpener, ClientCache
from .._redis.envelope import decode_value, open_envelope
from .._redis.errors import REDIS_ERRORS, store_error
from .._redis.scripts import GET_ENTRY

if TYPE_CHECKING:
    from .redis import AsyncRedisStore

__all__ = ["cached_get", "cached_get_many"]


async def cached_get(
    store: AsyncRedisStore, cache: ClientCache, name: str, key: str
) -> dict[str, Any] | None:
    """``get`` through the cache: from memory when fresh, else one GET_ENTRY (value and
    PTTL together) whose answer is kept unless an invalidation raced it."""
    encoded = name.encode()
    data = cache.lookup(encoded)
    if data is not None:
        return store._codec.decode(data, key=key)
    if cache.needs_connect():
        await AsyncOpener.connect(cache)
    token = cache.begin(encoded)
    if token is None:  # no tracking connection: the server answers, nothing is kept
        try:
            raw = await store._client.get(name)
        except REDIS_ERRORS as error:
            raise store_error(error, key) from error
        return None if raw is None else decode_value(store._codec, raw, key)
    stored: bytes | None = None
    pttl = -2
    try:
        reply = await store._run(GET_ENTRY, 1, name)
        if reply is None:
            return None
        raw, pttl = reply[0], reply[1]
        data = open_envelope(raw, key)[1]
        value = store._codec.decode(data, key=key)
        stored = data
        return value
    except REDIS_ERRORS as error:
        raise store_error(error, key) from error
    finally:
        cache.finish(encoded, token, stored, pttl)


async def cached_get_many(
    store: AsyncRedisStore, cache: ClientCache, wanted: list[str]
) -> dict[str, dict[str, Any]]:
    """``get_many`` through the cache: fresh entries from memory, the rest in one MGET
    (not kept: MGET does not say when a key expires)."""
    codec = store._codec
    found: dict[str, dict[str, Any]] = {}
    missing: list[str] = []
    for key in wanted:
        data = cache.lookup((store._prefix + key).encode())
        if data is None:
            missing.append(key)
        else:
            found[key] = codec.decode(data, key=key)
    if missing:
        try:
            raws = await store._client.mget([store._prefix + key for key in missing])
        except REDIS_ERRORS as error:
            raise store_error(error) from error
        for key, raw in zip(missing, raws, strict=True):
            if raw is not None:
                found[key] = decode_value(codec, raw, key)
    return {key: found[key] for key in wanted if key in found}
