"""A fallback journal's replay against Redis: the first call after recovery, and the whole
replay, with 3,000 and 20,000 journaled sets. Run: ``python -m benchmarks.replay``.

Not a pair. Each size: an instance journals N sets while its Redis URL points at a closed
port (unsynced, to build the journal quickly), then a new instance opens the same journal
on the real Redis, as after a crash and restart. Timed: that instance's first ``get`` of a
key the journal does not hold (the call must not wait for the journal), then the time until
the journal is empty, beside N raw redis-py ``SET`` calls on the same server.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import redis

from benchmarks.core import Point, format_scaling, server_answers, skip
from benchmarks.memory import SESSION
from benchmarks.redis import URL
from sessionkit import open_store
from sessionkit.resilience import RetryPolicy, resilient

_FAST = RetryPolicy(attempts=1, initial_wait=0.0, max_wait=0.0, jitter=0.0)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _journal(path: Path, prefix: str, records: int) -> None:
    dead = open_store(f"redis://127.0.0.1:{_closed_port()}/0", prefix=prefix)
    with resilient(dead, path, fsync=False, retry=_FAST) as store:
        for n in range(records):
            store.set(f"s{n}", SESSION)


def points(quick: bool) -> Iterator[Point]:
    if not server_answers("127.0.0.1", 6379):
        skip("benchmarks.replay", "Redis is not running on 127.0.0.1:6379")
        return
    raw = redis.Redis.from_url(URL)
    try:
        for records in (100,) if quick else (3_000, 20_000):
            prefix = f"skbench-replay:{uuid.uuid4().hex[:8]}:"
            with tempfile.TemporaryDirectory() as directory:
                path = Path(directory) / "journal.jsonl"
                _journal(path, prefix, records)
                with resilient(open_store(URL, prefix=prefix), path) as store:
                    start = time.perf_counter()
                    store.get("not-journaled")
                    first = time.perf_counter() - start
                    while store.journal.pending():
                        if not store.replay().completed:
                            time.sleep(0.001)
                    whole = time.perf_counter() - start
                    store.purge("")
            start = time.perf_counter()
            for n in range(records):
                raw.set(f"{prefix}raw:{n}", b"x" * 1024)
            raw_sets = time.perf_counter() - start
            for n in range(0, records, 1000):
                raw.delete(*[f"{prefix}raw:{m}" for m in range(n, min(n + 1000, records))])
            yield Point("replay redis: first get after recovery", records, 0, first)
            yield Point("replay redis: until the journal is empty", records, records, whole)
            yield Point("raw redis-py SET, one by one", records, records, raw_sets)
    finally:
        raw.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="100 records: a smoke run")
    args = parser.parse_args(argv)
    found = list(points(args.quick))
    if found:
        table = format_scaling(found).replace("live sessions", "journaled records")
        print(table.replace("| removed |", "| replayed |"))
        print(f"load average {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
