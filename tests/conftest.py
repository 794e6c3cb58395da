"""Session-wide hooks for the whole test suite."""

from __future__ import annotations

import sys

import pytest


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Stop the Redis servers this session started (atexit stays as a backstop)."""
    servers = sys.modules.get("tests.redis_servers")
    if servers is not None:  # only if a test imported it: nothing to start otherwise
        servers.stop_all()
