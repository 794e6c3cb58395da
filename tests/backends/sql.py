"""SQL backends: SQLite (a file per test), PostgreSQL (psycopg, and asyncpg for the async
store) and MariaDB on this machine's servers.

Every test gets its own table, ``sktest_<yymmddHHMM>_<run>_<token>``: the UTC minute the
test run started, a random id of the run (shared with the run's child processes) and a
token unique to the test. Other test runs share the servers, possibly from other machines
or containers, so a run drops only

- its own tables, when it exits (every ``sktest_*_<run>_*`` table, remembered or not);
- tables whose name says they were made over a day ago (a killed run's leftovers): no
  test run lasts a day, so none of them is still in use.

Nothing else is touched (older ``sktest_<pid>_<token>`` names carry no date and are left).
"""

from __future__ import annotations

import atexit
import contextlib
import datetime
import os
import re
import secrets
from typing import Any

import sqlalchemy as sa

from tests.backends import BackendSpec

POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
ASYNCPG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
MARIADB_URL = "mariadb://root@127.0.0.1:3306/test"
POSTGRES_SERVER = ("PostgreSQL", "127.0.0.1", 5432)
MARIADB_SERVER = ("MariaDB", "127.0.0.1", 3306)

#: Each shared server's URL with a sync driver: for the cleanup, and for tests that look at
#: rows behind a store's back.
SYNC_URLS = {
    POSTGRES_URL: "postgresql+psycopg://postgres@127.0.0.1:5432/test",
    MARIADB_URL: "mariadb+pymysql://root@127.0.0.1:3306/test",
}

#: Tables older than this (by the date in their name) are a dead run's: dropped at start.
STALE_AFTER = datetime.timedelta(days=1)
_STAMP_FORMAT = "%y%m%d%H%M"
_OUR_TABLE = re.compile(r"sktest_(\d{10})_([0-9a-f]{8})_[0-9a-f]{12}(?:_tombstones)?")
_RUN_VARIABLE = "SESSIONKIT_TEST_RUN"


def _this_run() -> tuple[str, str, bool]:
    """(stamp, run id, whether this process started the run). Child processes inherit
    the parent's run through the environment, so their tables are the run's too."""
    inherited = os.environ.get(_RUN_VARIABLE, "")
    stamp, _, run = inherited.partition("_")
    if re.fullmatch(r"\d{10}", stamp) and re.fullmatch(r"[0-9a-f]{8}", run):
        return stamp, run, False
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime(_STAMP_FORMAT)
    run = secrets.token_hex(4)
    os.environ[_RUN_VARIABLE] = f"{stamp}_{run}"
    return stamp, run, True


RUN_STAMP, RUN_ID, _STARTED_HERE = _this_run()

# The shared servers this process made tables on (sync driver URLs): cleaned at exit.
_USED: set[str] = set()


def table_name_for(token: str) -> str:
    """This run's table for the test with ``token`` (12 hex digits): 39 characters."""
    return f"sktest_{RUN_STAMP}_{RUN_ID}_{token}"


def table_options(server_url: str | None) -> Any:
    """``BackendSpec.options``: a fresh table per test, named for this run."""

    def options(token: str) -> dict[str, Any]:
        if server_url is not None:
            _USED.add(server_url)
        return {"table_name": table_name_for(token)}

    return options


def remember_table(server_url: str, name: str) -> None:
    """For tests that open a store on a shared server with a `table_name_for` name."""
    _USED.add(server_url)


def is_ours(name: str) -> bool:
    """Whether ``name`` is a table this test run made."""
    match = _OUR_TABLE.fullmatch(name)
    return match is not None and match.group(1) == RUN_STAMP and match.group(2) == RUN_ID


def is_stale(name: str, now: datetime.datetime | None = None) -> bool:
    """Whether ``name`` is a test table whose name dates it over `STALE_AFTER` ago."""
    match = _OUR_TABLE.fullmatch(name)
    if match is None:
        return False
    try:
        made = datetime.datetime.strptime(match.group(1), _STAMP_FORMAT)
    except ValueError:
        return False
    made = made.replace(tzinfo=datetime.timezone.utc)
    return (now or datetime.datetime.now(datetime.timezone.utc)) - made > STALE_AFTER


def _drop_tables(url: str, which: Any) -> None:
    """Drop the tables on ``url`` whose name satisfies ``which``."""
    engine = sa.create_engine(SYNC_URLS[url], connect_args={"connect_timeout": 5})
    try:
        with engine.begin() as conn:
            names = sa.inspect(conn).get_table_names()
            for name in sorted(name for name in names if which(name)):
                quoted = engine.dialect.identifier_preparer.quote(name)
                conn.exec_driver_sql(f"DROP TABLE IF EXISTS {quoted}")
    except sa.exc.SQLAlchemyError:
        pass  # the server is down: nothing to clean on it now
    finally:
        engine.dispose()


def _drop_on_servers(urls: Any, which: Any) -> None:
    for url in sorted(urls):
        with contextlib.suppress(Exception):  # a missing driver or server: nothing to do
            _drop_tables(url, which)


@atexit.register
def _drop_this_runs_tables() -> None:
    # Every table of the run on the servers this process used, also those a child
    # process made there (a child's own exit leaves them: the run may still use them).
    if _STARTED_HERE:
        _drop_on_servers(_USED, is_ours)


if _STARTED_HERE:
    _drop_on_servers(SYNC_URLS, is_stale)


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
