"""The private redis-server the Redis store tests share, and a fresh key prefix per test."""

from __future__ import annotations

import uuid

import pytest

from tests import redis_servers


@pytest.fixture(scope="module")
def server() -> redis_servers.Standalone:
    redis_servers.redis_server_binary()
    return redis_servers.standalone()


@pytest.fixture
def prefix() -> str:
    return f"sktest:{uuid.uuid4().hex[:12]}:"
