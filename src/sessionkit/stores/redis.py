"""The Redis store: standalone, TLS, unix socket, Sentinel and Cluster, sync and async."""

from ._async.redis import AsyncRedisStore
from ._sync.redis import RedisStore

__all__ = ["AsyncRedisStore", "RedisStore"]
