"""Faults for the Redis fault tests: the fault proxy in front of the session's private
redis-server, or SIGSTOP of a redis-server of the test's own.

Every fault test asserts the error type and the time against the bounds the docs state
(docs/backends/redis.md, "Timeouts"; docs/resilience.md, "How long a call can take").
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import redis_servers
from tests.faultproxy import Fault, FaultProxy

#: The deadline the matrix runs at, and what a loaded 2-core machine may add to it.
TIMEOUT = 1.0
SLACK = 0.75
#: A slow reply is held this long: longer than the deadline.
SLOW_DELAY = 1.6

FAULTS = ["refuse", "blackhole", "drop-mid-reply", "slow", "sigstop"]


class Injector:
    """Turns one fault on and off for a server reachable at ``url``."""

    def __init__(self, fault: str, tmp_path: Path) -> None:
        self.fault = fault
        self._proxy: FaultProxy | None = None
        self._process: redis_servers.RedisProcess | None = None
        if fault == "sigstop":
            directory = tmp_path / "redis"
            directory.mkdir()
            self._process = redis_servers.RedisProcess(directory)
            self._process.start()
            port = self._process.port
        else:
            server = redis_servers.standalone()
            self._proxy = FaultProxy(("127.0.0.1", server.port), delay=SLOW_DELAY)
            port = self._proxy.port
        self.url = f"redis://127.0.0.1:{port}/0"

    def inject(self) -> None:
        if self._process is not None:
            assert self._process.process is not None
            os.kill(self._process.process.pid, signal.SIGSTOP)
        else:
            assert self._proxy is not None
            self._proxy.set(Fault(self.fault))

    def lift(self) -> None:
        if self._process is not None:
            assert self._process.process is not None
            os.kill(self._process.process.pid, signal.SIGCONT)
        else:
            assert self._proxy is not None
            self._proxy.set(Fault.FORWARD)

    def close(self) -> None:
        if self._process is not None:
            self.lift()
            self._process.stop()
        if self._proxy is not None:
            self._proxy.close()


@pytest.fixture(params=FAULTS)
def injector(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Injector]:
    redis_servers.redis_server_binary()  # skips locally, fails under CI=true, without one
    made = Injector(request.param, tmp_path)
    try:
        yield made
    finally:
        made.close()
