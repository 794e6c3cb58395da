"""The Redis store, sync and async, against raw redis-py doing the same work on the same
server and payload, serialization included (orjson when the codec uses it, as it does
with the ``fast`` extra); and ``merge`` against aiogram's ``RedisStorage.update_data``.

Goals (the issue's): get/set/delete <= 1.10 x raw; merge <= 1.25 x a raw GET (one round
trip, atomic) and <= 0.55 x aiogram's update_data (two round trips, not atomic);
update(fn) <= 2.5 x a raw GET (it is a GET and a compare-and-set); get_many/set_many of
100 keys at >= 0.8 x the throughput of a raw pipeline (time ratio <= 1.25).
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any
from urllib.parse import urlsplit

import attrs
import redis
import redis.asyncio

try:  # the peer, for the merge comparison
    from aiogram.fsm.storage.base import DefaultKeyBuilder, StorageKey
    from aiogram.fsm.storage.redis import RedisStorage

    from sessionkit.integrations.aiogram import SessionkitStorage
except ImportError:  # pragma: no cover - aiogram is an optional extra
    StorageKey = None  # type: ignore[assignment,misc]

from benchmarks.core import Pair, SuiteSkipped, server_answers, skip
from benchmarks.payload import MANY, PATCH, SESSION, advance
from sessionkit.codec import default_codec
from sessionkit.stores._redis.scripts import SET
from sessionkit.stores.redis import AsyncRedisStore, RedisStore

URL = os.environ.get("SESSIONKIT_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")

GOAL_SINGLE = 1.10
GOAL_MERGE = 1.25
GOAL_MERGE_VS_AIOGRAM = 0.55
GOAL_UPDATE = 2.5
GOAL_MANY = 1 / 0.8
GOAL_CACHED_GET = 0.2  # a client-side cache hit against a raw GET + decode
CONCURRENT_TASKS = 64

# Both sides serialize with what the store's codec uses.
if default_codec.uses_orjson:
    import orjson

    dumps: Callable[[Any], bytes] = orjson.dumps
    loads: Callable[[Any], Any] = orjson.loads
else:  # pragma: no cover - without the fast extra

    def dumps(value: Any) -> bytes:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()

    loads = json.loads


def _require_redis() -> None:
    parts = urlsplit(URL)
    host, port = parts.hostname or "127.0.0.1", parts.port or 6379
    if not server_answers(host, port):
        raise SuiteSkipped(f"Redis is not running on {host}:{port} ({URL})")


def _names(prefix: str) -> tuple[list[str], dict[str, dict[str, Any]], list[str]]:
    """The store's keys for get_many/set_many, their items, and the raw side's Redis keys."""
    keys = [f"many:{n}" for n in range(MANY)]
    return keys, dict.fromkeys(keys, SESSION), [f"{prefix}raw:many:{n}" for n in range(MANY)]


def _sync_pairs(stack: ExitStack, prefix: str) -> list[Pair]:
    store = RedisStore(url=URL, prefix=prefix)
    stack.callback(store.close)
    stack.callback(store.purge, "")
    raw = redis.Redis.from_url(URL)
    stack.callback(raw.close)
    raw_key, gone = f"{prefix}raw:s", f"{prefix}raw:gone"
    script_key = f"{prefix}script:s"
    keys, items, raw_keys = _names(prefix)
    store.set("s", SESSION)
    store.set("script:s", SESSION)  # loads the script on the server (EVALSHA needs it)
    store.set_many(items)
    raw.set(raw_key, dumps(SESSION))
    raw.mset({name: dumps(SESSION) for name in raw_keys})

    def raw_get() -> Any:
        return loads(raw.get(raw_key))

    def raw_get_many() -> dict[str, Any]:
        pipe = raw.pipeline(transaction=False)
        for name in raw_keys:
            pipe.get(name)
        return {k: loads(v) for k, v in zip(keys, pipe.execute(), strict=True) if v is not None}

    def raw_set_many() -> None:
        pipe = raw.pipeline(transaction=False)
        for name in raw_keys:
            pipe.set(name, dumps(SESSION))
        pipe.execute()

    cached = RedisStore(url=URL, prefix=prefix, client_cache=True)
    stack.callback(cached.close)
    cached.get("s")  # the tracking connection opens, the entry is kept

    return [
        Pair("redis get", lambda: store.get("s"), raw_get, "raw GET", GOAL_SINGLE),
        Pair(
            "redis get, client cache hit",
            lambda: cached.get("s"),
            raw_get,
            "raw GET + decode",
            GOAL_CACHED_GET,
        ),
        Pair(
            "redis set",
            lambda: store.set("s", SESSION),
            lambda: raw.set(raw_key, dumps(SESSION)),
            "raw SET",
            GOAL_SINGLE,
        ),
        # Where set's cost goes, one part at a time (no goal): the version-bumping script
        # run by hand with bare orjson bytes, and a bare SET of the codec's checked bytes.
        Pair(
            "redis set, part: the script alone",
            lambda: raw.evalsha(SET.sha, 1, script_key, 0, 1, dumps(SESSION)),  # PX, stamp
            lambda: raw.set(raw_key, dumps(SESSION)),
            "raw SET",
        ),
        Pair(
            "redis set, part: the codec check alone",
            lambda: raw.set(raw_key, default_codec.encode(SESSION)),
            lambda: raw.set(raw_key, dumps(SESSION)),
            "raw SET",
        ),
        Pair(
            "redis delete (absent)",
            lambda: store.delete("gone"),
            lambda: raw.delete(gone),
            "raw DEL",
            GOAL_SINGLE,
        ),
        Pair("redis merge", lambda: store.merge("s", PATCH), raw_get, "raw GET", GOAL_MERGE),
        Pair(
            "redis update(fn)", lambda: store.update("s", advance), raw_get, "raw GET", GOAL_UPDATE
        ),
        Pair(
            f"redis get_many({MANY})",
            lambda: store.get_many(keys),
            raw_get_many,
            f"raw pipeline of {MANY} GETs",
            GOAL_MANY,
        ),
        Pair(
            f"redis set_many({MANY})",
            lambda: store.set_many(items),
            raw_set_many,
            f"raw pipeline of {MANY} SETs",
            GOAL_MANY,
        ),
    ]


def _async_pairs(stack: ExitStack, loop: asyncio.AbstractEventLoop, prefix: str) -> list[Pair]:
    store = AsyncRedisStore(url=URL, prefix=prefix)
    cached = AsyncRedisStore(url=URL, prefix=prefix, client_cache=True)
    raw = redis.asyncio.Redis.from_url(URL)
    stack.callback(lambda: loop.run_until_complete(raw.aclose()))
    stack.callback(lambda: loop.run_until_complete(store.close()))
    stack.callback(lambda: loop.run_until_complete(cached.close()))
    raw_key, gone = f"{prefix}raw:as", f"{prefix}raw:gone"
    keys, items, raw_keys = _names(prefix)

    async def prepare() -> None:
        await store.set("as", SESSION)
        await store.set_many(items)
        await raw.set(raw_key, dumps(SESSION))
        await raw.mset({name: dumps(SESSION) for name in raw_keys})

    loop.run_until_complete(prepare())
    loop.run_until_complete(cached.get("as"))  # tracking connection open, entry kept
    tasks = range(CONCURRENT_TASKS)
    loop.run_until_complete(raw.mset({f"{raw_key}:{n}": dumps(SESSION) for n in tasks}))
    loop.run_until_complete(store.set_many({f"as:{n}": SESSION for n in tasks}))

    async def raw_get() -> Any:
        return loads(await raw.get(raw_key))

    async def one_request(n: int) -> None:  # what a web request does: read, then write
        value = await store.get(f"as:{n}")
        await store.set(f"as:{n}", value or SESSION)

    async def raw_request(n: int) -> None:
        value = await raw.get(f"{raw_key}:{n}")
        await raw.set(f"{raw_key}:{n}", dumps(loads(value) if value else SESSION))

    async def concurrent() -> None:
        await asyncio.gather(*(one_request(n) for n in tasks))

    async def raw_concurrent() -> None:
        await asyncio.gather(*(raw_request(n) for n in tasks))

    async def raw_set() -> None:
        await raw.set(raw_key, dumps(SESSION))

    async def raw_get_many() -> dict[str, Any]:
        pipe = raw.pipeline(transaction=False)
        for name in raw_keys:
            pipe.get(name)
        found = await pipe.execute()
        return {k: loads(v) for k, v in zip(keys, found, strict=True) if v is not None}

    async def raw_set_many() -> None:
        pipe = raw.pipeline(transaction=False)
        for name in raw_keys:
            pipe.set(name, dumps(SESSION))
        await pipe.execute()

    pairs = [
        Pair("redis async get", lambda: store.get("as"), raw_get, "raw GET", GOAL_SINGLE),
        Pair(
            "redis async get, client cache hit",
            lambda: cached.get("as"),
            raw_get,
            "raw GET + decode",
            GOAL_CACHED_GET,
        ),
        # Throughput under concurrency: one call is 64 tasks each doing a get and a set
        # (sessions/s = 64 / the time per call).
        Pair(
            f"redis async {CONCURRENT_TASKS} concurrent tasks (get + set each)",
            concurrent,
            raw_concurrent,
            f"raw redis.asyncio, {CONCURRENT_TASKS} tasks",
            GOAL_SINGLE,
        ),
        Pair("redis async set", lambda: store.set("as", SESSION), raw_set, "raw SET", GOAL_SINGLE),
        Pair(
            "redis async delete (absent)",
            lambda: store.delete("gone"),
            lambda: raw.delete(gone),
            "raw DEL",
            GOAL_SINGLE,
        ),
        Pair("redis async merge", lambda: store.merge("as", PATCH), raw_get, "raw GET", GOAL_MERGE),
        Pair(
            "redis async update(fn)",
            lambda: store.update("as", advance),
            raw_get,
            "raw GET",
            GOAL_UPDATE,
        ),
        Pair(
            f"redis async get_many({MANY})",
            lambda: store.get_many(keys),
            raw_get_many,
            f"raw pipeline of {MANY} GETs",
            GOAL_MANY,
        ),
        Pair(
            f"redis async set_many({MANY})",
            lambda: store.set_many(items),
            raw_set_many,
            f"raw pipeline of {MANY} SETs",
            GOAL_MANY,
        ),
    ]
    on_loop = [attrs.evolve(pair, loop=loop) for pair in pairs]
    return on_loop + _aiogram_pairs(stack, loop, store, raw)


def _aiogram_pairs(
    stack: ExitStack,
    loop: asyncio.AbstractEventLoop,
    store: AsyncRedisStore,
    raw: redis.asyncio.Redis,
) -> list[Pair]:
    """merge (one atomic round trip) against aiogram's update_data (a GET, then a SET)."""
    if StorageKey is None:
        skip("benchmarks.redis (aiogram)", "aiogram is not installed (pip install aiogram)")
        return []
    # aiogram gets the same JSON library, so the pair compares round trips, not encoders.
    peer = RedisStorage(
        raw,
        key_builder=DefaultKeyBuilder(prefix=f"{store.prefix}aiogram"),
        json_dumps=lambda value: dumps(value).decode(),
        json_loads=loads,
    )
    ours = SessionkitStorage(store)
    key = StorageKey(bot_id=1, chat_id=-1001234567890, user_id=123456789)
    loop.run_until_complete(peer.set_data(key, SESSION))
    loop.run_until_complete(ours.set_data(key, SESSION))
    return [
        Pair(
            "redis async merge (vs aiogram)",
            lambda: store.merge("as", PATCH),
            lambda: peer.update_data(key, PATCH),
            "aiogram RedisStorage.update_data",
            GOAL_MERGE_VS_AIOGRAM,
            loop,
        ),
        Pair(
            "aiogram SessionkitStorage.update_data",
            lambda: ours.update_data(key, PATCH),
            lambda: peer.update_data(key, PATCH),
            "aiogram RedisStorage.update_data",
            GOAL_MERGE_VS_AIOGRAM,
            loop,
        ),
    ]


@contextmanager
def pairs() -> Iterator[list[Pair]]:
    _require_redis()
    prefix = f"skbench:{uuid.uuid4().hex[:8]}:"
    loop = asyncio.new_event_loop()
    with ExitStack() as stack:
        stack.callback(loop.close)
        # The raw side's keys live under the same prefix: the store's purge removes them.
        found = _sync_pairs(stack, prefix)
        found += _async_pairs(stack, loop, prefix)
        yield found
