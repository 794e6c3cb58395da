"""A Redis server that wants a password: the error says where the password goes. TLS
files that are missing or a certificate nobody trusts: configuration errors too, which
`resilient()` never retries or journals.

Runs a private redis-server started with --requirepass (stopped at the end of the module).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sessionkit import ConfigurationError, open_async_store, open_store
from sessionkit.resilience import resilient
from sessionkit.stores.redis import AsyncRedisStore, RedisStore
from tests import redis_servers
from tests.servers import IN_CI

PASSWORD = "s3cret-pass"


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    with redis_servers.server_with_password(PASSWORD) as port:
        yield port


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


@pytest.mark.parametrize("credentials", ["", ":wrong@"], ids=["no-password", "wrong-password"])
async def test_resilient_raises_a_credentials_error_and_journals_nothing(
    port: int, credentials: str, tmp_path: Path
) -> None:
    # A misconfiguration is not an outage: no retry, no breaker count, no journal.
    journal = tmp_path / "journal.jsonl"
    store = resilient(
        open_async_store(f"redis://{credentials}127.0.0.1:{port}/0", timeout=1), journal
    )
    try:
        for _ in range(3):
            with pytest.raises(ConfigurationError, match="Redis"):
                await store.set("k", {"a": 1})
        assert not store.journal.pending()
        assert not journal.exists() or b'"op"' not in journal.read_bytes()
    finally:
        await store.close()


def test_a_tls_file_that_is_not_there_is_a_configuration_error_at_open(
    tmp_path: Path,
) -> None:
    missing = str(tmp_path / "ca.pem")
    with pytest.raises(ConfigurationError, match="ssl_ca_certs"):
        open_store("rediss://127.0.0.1:6380/0", client_options={"ssl_ca_certs": missing})
    with pytest.raises(ConfigurationError, match="ssl_certfile"):
        open_store(f"rediss://127.0.0.1:6380/0?ssl_certfile={missing}")


def test_an_untrusted_tls_certificate_is_a_configuration_error_never_journaled(
    tmp_path: Path,
) -> None:
    server = redis_servers.standalone()
    if server.tls_port is None:
        reason = "openssl is not installed, so the test server has no TLS port"
        if IN_CI:
            pytest.fail(f"{reason}, and CI=true", pytrace=False)
        pytest.skip(reason)
    # The server's certificate is self-signed, and no CA is given that trusts it.
    store = resilient(
        open_store(f"rediss://127.0.0.1:{server.tls_port}/0", timeout=1),
        tmp_path / "journal.jsonl",
    )
    try:
        with pytest.raises(ConfigurationError, match="certificate"):
            store.set("k", {"a": 1})
        assert not store.journal.pending()
    finally:
        store.close()
