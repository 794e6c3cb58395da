from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

import sessionkit
from sessionkit import (
    AsyncMemoryStore,
    ConfigurationError,
    MemoryStore,
    open_async_store,
    open_store,
)
from sessionkit.registry import redact_url, register_scheme
from sessionkit.stores.sql import SQLStore


def test_memory_urls_open_memory_stores() -> None:
    assert isinstance(open_store("memory://"), MemoryStore)
    assert isinstance(open_async_store("MEMORY://"), AsyncMemoryStore)


def test_options_reach_the_store() -> None:
    clock = sessionkit.FakeClock()
    store = open_store("memory://", clock=clock, default_ttl=10)
    store.set("k", {})
    clock.advance(10)
    assert store.get("k") is None


@pytest.mark.parametrize("url", ["", "memory", "nope://x", "://x", 42])
def test_unknown_or_malformed_urls_are_configuration_errors(url: object) -> None:
    with pytest.raises(ConfigurationError):
        open_store(url)  # type: ignore[arg-type]


def test_memory_url_with_a_host_is_rejected() -> None:
    with pytest.raises(ConfigurationError, match="just 'memory://'"):
        open_store("memory://somewhere/else")


def test_unknown_options_are_named() -> None:
    with pytest.raises(
        ConfigurationError, match=r"unknown option\(s\) for memory:// stores: colour"
    ):
        open_store("memory://", colour="blue")


def test_a_missing_driver_names_the_extra_to_install() -> None:
    register_scheme(
        "testdb",
        sync="sessionkit_missing_driver_module:Store",
        async_="sessionkit_missing_driver_module:AsyncStore",
        extra="testdb",
    )
    with pytest.raises(ConfigurationError, match=r"pip install 'sessionkit\[testdb\]'") as raised:
        open_store("testdb+driver://host/db")  # "a+b" falls back to "a"
    assert "sessionkit_missing_driver_module" in str(raised.value)


def test_passwords_are_redacted() -> None:
    assert redact_url("postgresql://app:s3cret@db:5432/x") == "postgresql://app:***@db:5432/x"
    assert redact_url("redis://cache:6379/0") == "redis://cache:6379/0"


def test_a_driver_no_extra_brings_is_named_by_its_package() -> None:
    # [postgres] brings psycopg 3 and asyncpg: psycopg2 is another package, named as such.
    if importlib.util.find_spec("psycopg2") is not None:
        pytest.skip("psycopg2 is installed here")
    with pytest.raises(ConfigurationError) as raised:
        open_store("postgresql+psycopg2://127.0.0.1/test")
    assert str(raised.value) == "postgresql+psycopg2:// needs psycopg2: pip install psycopg2-binary"


def test_an_unknown_sqlalchemy_driver_points_at_the_supported_ones() -> None:
    with pytest.raises(ConfigurationError, match="SQLAlchemy has no driver 'sqlite\\+nosuch'"):
        open_store("sqlite+nosuch:///x.db")


@pytest.mark.parametrize("scheme", ["SQLite", "SQLITE"])
def test_url_schemes_are_case_insensitive(scheme: str, tmp_path: Path) -> None:
    for store in (
        open_store(f"{scheme}:///{tmp_path}/s.db"),
        SQLStore(f"{scheme}:///{tmp_path}/s.db"),
    ):
        store.set("k", {"n": 1})
        assert store.get("k") == {"n": 1}
        store.close()
