"""An async Redis store outlives the event loop it first ran in: one opened by URL makes
itself a new client under a new loop (a second ``asyncio.run()``, a test framework's loop
per test); a client you pass cannot be moved, and says so with a `ConfigurationError`."""

from __future__ import annotations

import asyncio
import gc
import uuid

import pytest
from redis.asyncio import Redis

from sessionkit import ConfigurationError, open_async_store
from sessionkit.stores.redis import AsyncRedisStore
from tests import redis_servers
from tests.servers import require_server

pytestmark = pytest.mark.server


def _url(flavour: str) -> str:
    if flavour == "standalone":
        require_server("Redis", "127.0.0.1", 6379)
        return "redis://127.0.0.1:6379/0"
    redis_servers.redis_server_binary()
    if flavour == "sentinel":
        return redis_servers.sentinel_set().url
    return redis_servers.cluster().url


@pytest.mark.parametrize("flavour", ["standalone", "sentinel", "cluster"])
def test_a_store_opened_by_url_works_across_two_asyncio_runs(flavour: str) -> None:
    store = open_async_store(_url(flavour), prefix=f"sktest:loops:{uuid.uuid4().hex[:10]}:")

    async def first() -> None:
        await asyncio.gather(*(store.set(f"k{i}", {"i": i}) for i in range(20)))

    async def second() -> dict[str, dict[str, object]]:
        await asyncio.gather(*(store.merge(f"k{i}", {"j": i}) for i in range(20)))
        return await store.get_many(["k0", "k19"])

    async def third() -> int:
        try:
            return await store.purge("")
        finally:
            await store.close()

    asyncio.run(first())
    assert asyncio.run(second()) == {"k0": {"i": 0, "j": 0}, "k19": {"i": 19, "j": 19}}
    assert asyncio.run(third()) == 20


# The client's connection of the first loop can be neither used nor closed: that is the
# point of the error, and the warnings about it when it is collected are expected.
@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_client_of_a_closed_loop_is_a_configuration_error() -> None:
    require_server("Redis", "127.0.0.1", 6379)
    client = Redis.from_url("redis://127.0.0.1:6379/0")
    prefix = f"sktest:loops:{uuid.uuid4().hex[:10]}:"
    store = AsyncRedisStore(client, prefix=prefix)

    async def use(store: AsyncRedisStore) -> None:
        await store.set("k", {"a": 1})

    asyncio.run(use(store))
    with pytest.raises(ConfigurationError, match="event loop that is closed"):
        asyncio.run(use(store))  # not a raw RuntimeError: Event loop is closed

    async def in_its_own_loop() -> None:
        # A client made in the loop that uses it works with the same store settings.
        fresh = AsyncRedisStore(Redis.from_url("redis://127.0.0.1:6379/0"), prefix=prefix)
        assert await fresh.get("k") == {"a": 1}
        await fresh.purge("")
        await fresh.client.aclose()

    asyncio.run(in_its_own_loop())
    del store, client
    gc.collect()  # the first loop's connection goes now, under this test's warning filter
