"""A Redis server that wants a password: the error says where the password goes.

Runs a private redis-server started with --requirepass (stopped at the end of the module).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest
import redis

from sessionkit import ConfigurationError, open_async_store, open_store
from sessionkit.stores.redis import AsyncRedisStore, RedisStore
from tests import redis_servers

PASSWORD = "s3cret-pass"


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    binary = redis_servers.redis_server_binary()
    port = redis_servers.free_port()
    arguments = ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    process = subprocess.Popen(
        [binary, *arguments, "--requirepass", PASSWORD], stdout=subprocess.DEVNULL
    )
    try:
        with redis.Redis(port=port, password=PASSWORD) as probe:
            redis_servers.wait_until("redis-server with requirepass", probe.ping, timeout=15)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_no_password_in_the_url_says_to_put_it_there(port: int) -> None:
    store = open_store(f"redis://127.0.0.1:{port}/0")
    with pytest.raises(ConfigurationError) as raised:
        store.get("k")
    store.close()
    message = str(raised.value)
    assert message.startswith("Redis requires a password: put it in the URL")
    assert "HELLO" not in message


async def test_the_async_store_says_the_same(port: int) -> None:
    store = AsyncRedisStore.from_url(f"redis://127.0.0.1:{port}/0")
    with pytest.raises(ConfigurationError, match=r"^Redis requires a password: put it in the URL"):
        await store.set("k", {})
    await store.close()


def test_a_wrong_password_says_to_check_it(port: int) -> None:
    store = RedisStore.from_url(f"redis://:wrong@127.0.0.1:{port}/0")
    with pytest.raises(ConfigurationError, match="refused the username or password in the URL"):
        store.get("k")
    store.close()


async def test_the_password_in_the_url_opens_the_store(port: int) -> None:
    store = open_async_store(f"redis://:{PASSWORD}@127.0.0.1:{port}/0", prefix="sktest:auth:")
    await store.set("k", {"ok": True})
    assert await store.get("k") == {"ok": True}
    await store.purge("")
    await store.close()
