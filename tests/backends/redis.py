"""Redis backends: the shared server on 6379, a cluster and a Sentinel set the test session
starts itself (see tests/redis_servers.py), and fakeredis for the fast unit layer.

Every test gets its own key prefix: other test sessions share 6379, and the harness
purges only its own prefix at teardown.
"""

from __future__ import annotations

from typing import Any

import fakeredis

from sessionkit.registry import register_scheme
from sessionkit.stores.redis import AsyncRedisStore, RedisStore
from tests import redis_servers
from tests.backends import BackendSpec

# One in-process fake server for the whole session; prefixes keep tests apart.
FAKE_SERVER = fakeredis.FakeServer()


class FakeRedisStore(RedisStore):
    """RedisStore on fakeredis, opened by ``fakeredis://`` (tests only)."""

    @classmethod
    def from_url(cls, url: str, **options: Any) -> RedisStore:
        return cls(fakeredis.FakeRedis(server=FAKE_SERVER), close_client=True, **options)


class FakeAsyncRedisStore(AsyncRedisStore):
    """AsyncRedisStore on fakeredis, opened by ``fakeredis://`` (tests only)."""

    @classmethod
    def from_url(cls, url: str, **options: Any) -> AsyncRedisStore:
        return cls(fakeredis.FakeAsyncRedis(server=FAKE_SERVER), close_client=True, **options)


register_scheme(
    "fakeredis",
    sync="tests.backends.redis:FakeRedisStore",
    async_="tests.backends.redis:FakeAsyncRedisStore",
)


def _prefix(token: str) -> dict[str, Any]:
    return {"prefix": f"sktest:{token}:"}


SPECS = [
    BackendSpec(
        name="redis",
        url=lambda tmp: "redis://127.0.0.1:6379/0",
        options=_prefix,
        server=("Redis", "127.0.0.1", 6379),
        fake_clock=False,
        sweeps=False,
    ),
    BackendSpec(
        name="redis-cluster",
        url=lambda tmp: redis_servers.cluster().url,
        options=_prefix,
        fake_clock=False,
        sweeps=False,
    ),
    BackendSpec(
        name="redis-sentinel",
        url=lambda tmp: redis_servers.sentinel_set().url,
        options=_prefix,
        fake_clock=False,
        sweeps=False,
    ),
    BackendSpec(
        name="fakeredis",
        url=lambda tmp: "fakeredis://",
        options=_prefix,
        fake_clock=False,
        sweeps=False,
        multiprocess=False,
    ),
]
