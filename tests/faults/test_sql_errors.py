"""Honest error classes on PostgreSQL and MariaDB: what waiting cannot fix (a wrong password,
an unknown database or role, a missing permission or TLS file) is `ConfigurationError`, on
the first attempt, and ``resilient()`` neither retries it nor journals anything for it.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from sessionkit import ConfigurationError, StoreUnavailable
from sessionkit.resilience import Event, resilient
from sessionkit.stores._sql.errors import translate
from sessionkit.stores.sql import AsyncSQLStore, SQLStore
from tests.backends.sql import (
    MARIADB_SERVER,
    MARIADB_URL,
    POSTGRES_SERVER,
    POSTGRES_URL,
    SYNC_URLS,
    remember_table,
    table_name_for,
)
from tests.resilience.recorder import Recorder
from tests.servers import require_server

RAW = {"postgresql": SYNC_URLS[POSTGRES_URL], "mariadb": SYNC_URLS[MARIADB_URL]}
# (database, URL scheme, asynchronous): every driver the store uses by default, and asyncpg.
DRIVERS = {
    "psycopg-sync": ("postgresql", "postgresql", False),
    "psycopg-async": ("postgresql", "postgresql", True),
    "asyncpg-async": ("postgresql", "postgresql+asyncpg", True),
    "pymysql-sync": ("mariadb", "mariadb", False),
    "asyncmy-async": ("mariadb", "mariadb", True),
}
SERVERS = {"postgresql": POSTGRES_SERVER, "mariadb": MARIADB_SERVER}
TOKEN = f"{os.getpid()}_{uuid.uuid4().hex[:8]}"


def _url(scheme: str, user: str, database: str, query: str = "") -> str:
    port = 5432 if scheme.startswith("postgresql") else 3306
    return f"{scheme}://{user}@127.0.0.1:{port}/{database}{query}"


@pytest.fixture(scope="module")
def tables() -> Iterator[dict[str, str]]:
    """One session table per database, and a user without rights to it (PostgreSQL: a
    role; MariaDB: a user that may only INSERT), dropped at the end."""
    made: dict[str, str] = {}
    engines: dict[str, sa.Engine] = {}
    for database, server in SERVERS.items():
        require_server(*server)
        name = table_name_for(uuid.uuid4().hex[:12])
        remember_table(MARIADB_URL if database == "mariadb" else POSTGRES_URL, name)
        with SQLStore(RAW[database], table_name=name) as store:
            store.create_schema()
        engine = engines[database] = sa.create_engine(RAW[database])
        with engine.begin() as conn:
            if database == "postgresql":
                conn.exec_driver_sql(f"CREATE ROLE sktest_norights_{TOKEN} LOGIN")
            else:
                user = f"'sktest_ro_{TOKEN}'@'127.0.0.1'"
                conn.exec_driver_sql(f"CREATE USER {user}")
                conn.exec_driver_sql(f"GRANT INSERT ON test.{name} TO {user}")
                conn.exec_driver_sql(f"CREATE USER 'sktest_none_{TOKEN}'@'127.0.0.1'")
        made[database] = name
    yield made
    for database, engine in engines.items():
        with engine.begin() as conn:
            if database == "postgresql":
                conn.exec_driver_sql(f"DROP ROLE IF EXISTS sktest_norights_{TOKEN}")
            else:
                conn.exec_driver_sql(f"DROP USER IF EXISTS 'sktest_ro_{TOKEN}'@'127.0.0.1'")
                conn.exec_driver_sql(f"DROP USER IF EXISTS 'sktest_none_{TOKEN}'@'127.0.0.1'")
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {made[database]}")
        engine.dispose()


def _cases(database: str, scheme: str) -> dict[str, tuple[str, str]]:
    """{case: (URL, what the message says)}: each misconfiguration the database can show."""
    if database == "postgresql":
        tls = "?ssl=verify-full" if "asyncpg" in scheme else "?sslmode=verify-full"
        return {
            "unknown database": (_url(scheme, "postgres", f"nosuch_{TOKEN}"), "no such database"),
            "unknown role": (_url(scheme, f"nosuch_{TOKEN}", "test"), "no such role"),
            "permission denied": (
                _url(scheme, f"sktest_norights_{TOKEN}", "test"),
                "lacks a permission",
            ),
            "TLS required, none configured": (_url(scheme, "postgres", "test", tls), "TLS"),
        }
    return {
        "wrong password": (_url(scheme, "root:wrong-password", "test"), "refused the credentials"),
        "unknown database": (_url(scheme, "root", f"nosuch_{TOKEN}"), "no such database"),
        "unknown user": (_url(scheme, f"nosuch_{TOKEN}", "test"), "refused the credentials"),
        "no grant on the database": (
            _url(scheme, f"sktest_none_{TOKEN}", "test"),
            "lacks a permission",
        ),
        "no grant to read the table": (
            _url(scheme, f"sktest_ro_{TOKEN}", "test"),
            "lacks a permission",
        ),
        "missing TLS file": (
            _url(scheme, "root", "test", "?ssl_ca=/nonexistent/ca.pem"),
            "TLS is misconfigured",
        ),
    }


ALL_CASES = [
    (driver, case)
    for driver, (database, scheme, _) in DRIVERS.items()
    for case in _cases(database, scheme)
]


def _open(driver: str, url: str, table: str) -> Any:
    asynchronous = DRIVERS[driver][2]
    cls = AsyncSQLStore if asynchronous else SQLStore
    return cls(url, table_name=table, auto_create_schema=False, timeout=3)


async def _exercise(store: Any, asynchronous: bool, operation: str) -> Any:
    call = store.set("k", {"n": 1}) if operation == "set" else store.get("k")
    return await call if asynchronous else call


@pytest.mark.parametrize(("driver", "case"), ALL_CASES, ids=[f"{d}-{c}" for d, c in ALL_CASES])
async def test_misconfiguration_is_a_configuration_error_never_journaled(
    driver: str, case: str, tables: dict[str, str], tmp_path: Path
) -> None:
    database, scheme, asynchronous = DRIVERS[driver]
    url, says = _cases(database, scheme)[case]
    table = tables[database]

    async def close(store: Any) -> None:
        result = store.close()
        if asynchronous:
            await result

    bare = _open(driver, url, table)
    try:
        for operation in ("get", "set"):
            with pytest.raises(ConfigurationError, match=says) as raised:
                await _exercise(bare, asynchronous, operation)
            assert "retrying will not help" in str(raised.value)
    finally:
        await close(bare)

    recorder = Recorder()
    journal = tmp_path / "sessions.journal"
    wrapped = resilient(_open(driver, url, table), journal, observers=[recorder])
    try:
        for operation in ("set", "get", "set"):
            with pytest.raises(ConfigurationError):
                await _exercise(wrapped, asynchronous, operation)
        assert not wrapped.journal.pending()
        assert not journal.exists() or all(
            '"op"' not in line for line in journal.read_text().splitlines()
        )
        retried = {str(Event.RETRY_SCHEDULED), str(Event.FALLBACK_JOURNALED)}
        assert not retried & set(recorder.names()), recorder.names()
    finally:
        await close(wrapped)


def test_a_wrong_postgresql_password_is_a_configuration_error() -> None:
    # This server trusts loopback connections, so a wrong password cannot be shown live:
    # the error psycopg raises for one (libpq gives it no SQLSTATE), and asyncpg's code.
    message = (
        'connection failed: connection to server at "127.0.0.1", port 5432 failed: '
        'FATAL:  password authentication failed for user "app"'
    )
    error = sa_exc.OperationalError("connect", {}, psycopg.OperationalError(message))
    mapped = translate(error, "t")
    assert isinstance(mapped, ConfigurationError)
    assert "refused the credentials" in str(mapped)

    class InvalidPasswordError(Exception):  # asyncpg's, as SQLAlchemy's adapter carries it
        sqlstate = "28P01"

    error = sa_exc.DBAPIError("connect", {}, InvalidPasswordError("password failed"))
    assert isinstance(translate(error, "t"), ConfigurationError)


def test_an_outage_is_still_store_unavailable() -> None:
    # The classification does not swallow outages: a refused port, a dropped connection.
    refused = sa_exc.OperationalError(
        "connect", {}, psycopg.OperationalError("connection failed: Connection refused")
    )
    assert isinstance(translate(refused, "t"), StoreUnavailable)
    assert isinstance(translate(ConnectionResetError(104, "reset"), "t"), StoreUnavailable)


def test_asyncio_run_twice_keeps_the_classification() -> None:
    # The async store across two event loops still tells misconfiguration from outage.
    store = AsyncSQLStore(_url("postgresql", "postgres", f"nosuch_{TOKEN}"), timeout=3)
    require_server(*POSTGRES_SERVER)
    for _ in range(2):
        with pytest.raises(ConfigurationError):
            asyncio.run(store.get("k"))
    asyncio.run(store.close())
