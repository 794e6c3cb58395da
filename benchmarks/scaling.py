"""Sweep and purge cost as the number of live sessions grows, with a fixed number removed.

Not a pair: there is no baseline to alternate with. For each size, ``EXPIRED`` sessions
are made expired and timed while ``sweep()`` reclaims them, then ``EXPIRED`` sessions under
a prefix are timed while ``purge(prefix)`` removes them; the live ones stay. A store whose
sweep and purge follow an index (the memory store's expiry heap, SQL's ``expires_at`` index
and primary key) stays flat as the live count grows; a scan of every key grows with it.

Sizes: 10^3 .. 10^6 for memory and SQLite, 10^3 .. 10^5 for PostgreSQL, MariaDB and Redis
(purge only: Redis expires keys itself, so its sweep is a no-op), within the time budget.
"""

from __future__ import annotations

import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import redis

from benchmarks.core import Point, server_answers, skip
from benchmarks.redis import URL as REDIS_URL
from benchmarks.sql import BACKENDS
from sessionkit import MemoryStore
from sessionkit.clock import FakeClock
from sessionkit.errors import StoreUnavailable
from sessionkit.stores.redis import RedisStore
from sessionkit.stores.sql import SQLStore

EXPIRED = 1000
REPEATS = 5
SMALL = b'{"n":1}'  # the live sessions' value: the size of what stays does not matter here


def _sizes(quick: bool, largest: int) -> list[int]:
    if quick:
        return [10, 100]
    return [n for n in (10**3, 10**4, 10**5, 10**6) if n <= largest]


def _median_seconds(
    prepare: Callable[[], None], operation: Callable[[], int], expect: int
) -> float:
    """Median over REPEATS of one timed ``operation`` after an untimed ``prepare``."""
    timings = []
    for _ in range(REPEATS):
        prepare()
        start = time.perf_counter()
        removed = operation()
        timings.append(time.perf_counter() - start)
        if removed != expect:
            raise RuntimeError(f"removed {removed} sessions, expected {expect}")
    return statistics.median(timings)


def memory_points(quick: bool) -> Iterator[Point]:
    clock = FakeClock()
    store = MemoryStore(clock=clock)
    affected = 10 if quick else EXPIRED
    live = 0
    value = {"n": 1}
    for size in _sizes(quick, 10**6):
        store.set_many({f"live:{n}": value for n in range(live, size)})
        live = size

        def expire() -> None:
            store.set_many({f"old:{n}": value for n in range(affected)}, ttl=1)
            clock.advance(2)

        def doom() -> None:
            store.set_many({f"doomed:{n}": value for n in range(affected)})

        yield Point("memory sweep", live, affected, _median_seconds(expire, store.sweep, affected))
        yield Point(
            "memory purge",
            live,
            affected,
            _median_seconds(doom, lambda: store.purge("doomed:"), affected),
        )
    store.close()


def sql_points(quick: bool) -> Iterator[Point]:
    for label, url, server in BACKENDS:
        if server is not None and not server_answers(*server):
            skip(
                f"benchmarks.scaling ({label})",
                f"{label} is not running on {server[0]}:{server[1]}",
            )
            continue
        with tempfile.TemporaryDirectory() as directory:
            store_url = url or f"sqlite:///{Path(directory) / 'scaling.db'}"
            store = SQLStore(store_url, table_name=f"skbench_{uuid.uuid4().hex[:10]}")
            try:
                store.create_schema()
            except StoreUnavailable as error:  # it listens, but will not serve us
                store.close()
                skip(f"benchmarks.scaling ({label})", str(error))
                continue
            try:
                yield from _sql_series(store, label, quick, 10**6 if url is None else 10**5)
            finally:
                store.drop_schema()
                store.close()


def _sql_series(store: SQLStore, label: str, quick: bool, largest: int) -> Iterator[Point]:
    table, engine = store.table, store.engine
    affected = 10 if quick else EXPIRED

    def rows(keys: list[str], expires_at: int | None) -> list[dict[str, object]]:
        now = int(time.time() * 1_000_000)
        return [
            {
                "key": key,
                "value": SMALL,
                "version": 1,
                "created_at": now,
                "updated_at": now,
                "expires_at": expires_at,
            }
            for key in keys
        ]

    def insert(keys: list[str], expires_at: int | None) -> None:
        with engine.begin() as conn:
            for start in range(0, len(keys), 10_000):
                conn.execute(table.insert(), rows(keys[start : start + 10_000], expires_at))

    def analyze() -> None:
        """Fresh planner statistics after a bulk load, as autovacuum would soon gather."""
        if engine.dialect.name == "sqlite":
            return
        quoted = engine.dialect.identifier_preparer.quote(table.name)
        command = "ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE TABLE"
        with engine.begin() as conn:
            conn.exec_driver_sql(f"{command} {quoted}")

    live = 0
    for size in _sizes(quick, largest):
        insert([f"live:{n}" for n in range(live, size)], None)
        live = size
        analyze()

        def expire() -> None:
            insert([f"old:{n}" for n in range(affected)], 1)  # expired in 1970

        def doom() -> None:
            insert([f"doomed:{n}" for n in range(affected)], None)

        yield Point(
            f"{label} sweep", live, affected, _median_seconds(expire, store.sweep, affected)
        )
        yield Point(
            f"{label} purge",
            live,
            affected,
            _median_seconds(doom, lambda: store.purge("doomed:"), affected),
        )


def redis_points(quick: bool) -> Iterator[Point]:
    host, port = "127.0.0.1", 6379
    if not server_answers(host, port):
        skip("benchmarks.scaling (redis)", f"Redis is not running on {host}:{port}")
        return
    prefix = f"skbench:{uuid.uuid4().hex[:8]}:"
    store = RedisStore(url=REDIS_URL, prefix=prefix)
    raw = redis.Redis.from_url(REDIS_URL)
    affected = 10 if quick else EXPIRED

    def insert(names: list[str]) -> None:
        for start in range(0, len(names), 1000):
            pipe = raw.pipeline(transaction=False)
            for name in names[start : start + 1000]:
                pipe.set(name, b"sk1:1:" + SMALL)
            pipe.execute()

    try:
        live = 0
        for size in _sizes(quick, 10**5):
            insert([f"{prefix}live:{n}" for n in range(live, size)])
            live = size

            def doom() -> None:
                insert([f"{prefix}doomed:{n}" for n in range(affected)])

            yield Point(
                "redis purge",
                live,
                affected,
                _median_seconds(doom, lambda: store.purge("doomed:"), affected),
            )
    finally:
        store.purge("")
        store.close()
        raw.close()


#: The other axis of sweep's promise: its time grows with the expired sessions it reclaims.
BY_EXPIRED = " by expired"


def sweep_by_expired_points(quick: bool) -> Iterator[Point]:
    """Sweep time as the expired count grows, live count fixed (memory and SQLite)."""
    live = 10 if quick else 10**4
    counts = [5, 10] if quick else [10**2, 10**3, 10**4]
    clock = FakeClock()
    memory = MemoryStore(clock=clock)
    memory.set_many({f"live:{n}": {"n": 1} for n in range(live)})
    for expired in counts:

        def expire(expired: int = expired) -> None:
            memory.set_many({f"old:{n}": {"n": 1} for n in range(expired)}, ttl=1)
            clock.advance(2)

        seconds = _median_seconds(expire, memory.sweep, expired)
        yield Point(f"memory sweep{BY_EXPIRED}", live, expired, seconds)
    memory.close()
    with tempfile.TemporaryDirectory() as directory:
        store = SQLStore(f"sqlite:///{Path(directory) / 'expired.db'}", table_name="sweep")
        try:
            store.set_many({f"live:{n}": {"n": 1} for n in range(live)})
            for expired in counts:

                def expire_rows(expired: int = expired) -> None:
                    now = int(time.time() * 1_000_000)
                    rows = [
                        {
                            "key": f"old:{n}",
                            "value": SMALL,
                            "version": 1,
                            "created_at": now,
                            "updated_at": now,
                            "expires_at": 1,  # 1970
                        }
                        for n in range(expired)
                    ]
                    with store.engine.begin() as conn:
                        conn.execute(store.table.insert(), rows)

                seconds = _median_seconds(expire_rows, store.sweep, expired)
                yield Point(f"sqlite sweep{BY_EXPIRED}", live, expired, seconds)
        finally:
            store.close()


def points(quick: bool) -> Iterator[Point]:
    yield from memory_points(quick)
    yield from sql_points(quick)
    yield from redis_points(quick)
    yield from sweep_by_expired_points(quick)
