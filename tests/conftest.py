"""Session-wide hooks for the whole test suite."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Stop the Redis servers this session started (atexit stays as a backstop)."""
    servers = sys.modules.get("tests.redis_servers")
    if servers is not None:  # only if a test imported it: nothing to start otherwise
        servers.stop_all()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[object]:
    """A private redis-server (tests.redis_servers.RedisProcess) for fault injection."""
    from tests.redis_servers import RedisProcess  # noqa: PLC0415 - only when a test asks

    directory = tmp_path / "redis"
    directory.mkdir()
    server = RedisProcess(directory)
    server.start()
    try:
        yield server
    finally:
        server.stop()
