"""SQL backends: SQLite (a file per test), PostgreSQL (psycopg, and asyncpg for the async
store) and MariaDB on this machine's servers.

Every test gets its own table, ``sktest_<pid>_<token>``: other test sessions share the
servers, and the harness only purges. The tables this process created are dropped when it
exits; a run that was killed (no exit handlers) leaves its tables behind, and the next run
drops those whose creating process no longer exists. Nothing else is touched.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
from typing import Any

import sqlalchemy as sa

from tests.backends import BackendSpec

POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
ASYNCPG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
MARIADB_URL = "mariadb://root@127.0.0.1:3306/test"
POSTGRES_SERVER = ("PostgreSQL", "127.0.0.1", 5432)
MARIADB_SERVER = ("MariaDB", "127.0.0.1", 3306)

# Tables made on the shared servers by this process: {sync driver URL: {table names}}.
_CREATED: dict[str, set[str]] = {}


# The URLs the cleanup connects with (sync drivers).
_CLEANUP_URLS = {
    POSTGRES_URL: "postgresql+psycopg://postgres@127.0.0.1:5432/test",
    MARIADB_URL: "mariadb+pymysql://root@127.0.0.1:3306/test",
}
_OUR_TABLE = re.compile(r"sktest_(\d+)_[0-9a-f]{12}")


def table_name_for(token: str) -> str:
    return f"sktest_{os.getpid()}_{token}"


def table_options(server_url: str | None) -> Any:
    """``BackendSpec.options``: a fresh table per test, remembered for the cleanup."""

    def options(token: str) -> dict[str, Any]:
        name = table_name_for(token)
        if server_url is not None:
            _CREATED.setdefault(server_url, set()).add(name)
        return {"table_name": name}

    return options


def remember_table(server_url: str, name: str) -> None:
    """For tests that open a store with their own table name on a shared server."""
    _CREATED.setdefault(server_url, set()).add(name)


def _drop_tables(url: str, names: Any) -> None:
    engine = sa.create_engine(_CLEANUP_URLS[url], connect_args={"connect_timeout": 5})
    try:
        with engine.begin() as conn:
            for name in sorted(names(conn) if callable(names) else names):
                quoted = engine.dialect.identifier_preparer.quote(name)
                conn.exec_driver_sql(f"DROP TABLE IF EXISTS {quoted}")
    except sa.exc.SQLAlchemyError:
        pass  # the server is down: nothing to clean on it now
    finally:
        engine.dispose()


@atexit.register
def _drop_created_tables() -> None:
    for url, names in _CREATED.items():
        if names:
            _drop_tables(url, names)


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _orphans(conn: sa.Connection) -> list[str]:
    names = sa.inspect(conn).get_table_names()
    return [
        name
        for name in names
        if (match := _OUR_TABLE.fullmatch(name)) and not _process_exists(int(match.group(1)))
    ]


def _drop_orphaned_tables() -> None:
    """Once per test run (child processes inherit the marker): tables of dead runs."""
    if os.environ.get("SESSIONKIT_TEST_TABLES_SWEPT"):
        return
    os.environ["SESSIONKIT_TEST_TABLES_SWEPT"] = "1"
    for url in _CLEANUP_URLS:
        with contextlib.suppress(Exception):  # a missing driver or server: nothing to do
            _drop_tables(url, _orphans)


_drop_orphaned_tables()


SPECS = [
    BackendSpec(
        name="sqlite",
        url=lambda tmp: f"sqlite:///{tmp}/sessions.db",
        options=table_options(None),
    ),
    BackendSpec(
        name="postgresql",
        url=lambda tmp: POSTGRES_URL,
        options=table_options(POSTGRES_URL),
        server=POSTGRES_SERVER,
    ),
    # The same URL opens psycopg for the sync store and asyncpg for the async one.
    BackendSpec(
        name="postgresql+asyncpg",
        url=lambda tmp: ASYNCPG_URL,
        options=table_options(POSTGRES_URL),
        server=POSTGRES_SERVER,
    ),
    BackendSpec(
        name="mariadb",
        url=lambda tmp: MARIADB_URL,
        options=table_options(MARIADB_URL),
        server=MARIADB_SERVER,
    ),
]
