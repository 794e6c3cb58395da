"""The checkout check that replaced the ping: a pooled connection the server closed while
it was idle is told apart from a live one, with no round trip (stores/_sql/liveness.py)."""

from __future__ import annotations

import time

import psycopg
import pymysql
import pytest

from sessionkit.stores._sql.liveness import is_closed_while_idle
from tests.backends.sql import MARIADB_SERVER, POSTGRES_SERVER
from tests.servers import require_server

pytestmark = pytest.mark.server


def _closed_soon(connection: object) -> bool | None:
    """The check, given the server's end a moment to arrive (a kill is asynchronous)."""
    for _ in range(50):
        if is_closed_while_idle(connection):
            return True
        time.sleep(0.02)
    return is_closed_while_idle(connection)


def test_a_postgresql_connection_the_server_terminated_is_closed() -> None:
    require_server(*POSTGRES_SERVER)
    dsn = "host=127.0.0.1 user=postgres dbname=test"
    with psycopg.connect(dsn, autocommit=True) as victim, psycopg.connect(dsn) as admin:
        victim.execute("SELECT 1")
        assert is_closed_while_idle(victim) is False  # idle and open
        admin.execute("SELECT pg_terminate_backend(%s)", [victim.info.backend_pid])
        assert _closed_soon(victim) is True


def test_a_mariadb_connection_the_server_killed_is_closed() -> None:
    require_server(*MARIADB_SERVER)
    victim = pymysql.connect(host="127.0.0.1", user="root", database="test")
    admin = pymysql.connect(host="127.0.0.1", user="root", database="test")
    try:
        with victim.cursor() as cursor:
            cursor.execute("SELECT 1")
        assert is_closed_while_idle(victim) is False
        with admin.cursor() as cursor:
            cursor.execute(f"KILL {victim.thread_id()}")
        assert _closed_soon(victim) is True
    finally:
        admin.close()
        victim.close()


def test_a_driver_it_cannot_look_into_gets_a_ping() -> None:
    assert is_closed_while_idle(object()) is None  # None: the caller pings instead
