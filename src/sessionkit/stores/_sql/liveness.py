"""Is a pooled connection still open? Asked at checkout, without a round trip.

A connection that sat in the pool may have died meanwhile: the server restarted, failed
over, or closed it after ``wait_timeout``. In each case the server's side is closed, so the
client's socket turns readable (end of file, or a reset) while nobody is reading it: an idle
database connection has nothing else to say. A zero-timeout ``poll`` of the socket tells a
dead connection from a live one for a microsecond or two, where a ping (``SELECT 1``) costs a
round trip on every checkout. The asyncio drivers read their socket from the event loop, so
the loop may have seen the end already: their closed flag answers then. (go-sql-driver/mysql
checks its connections the same way.)

What this cannot see, a ping would not fix either: a server that froze, or a network that
drops packets, answers a ping no sooner than a query, and the operation's deadline bounds
both.
"""

from __future__ import annotations

import select
from typing import Any

__all__ = ["is_closed_while_idle"]

_POLL = getattr(select, "poll", None)  # not on Windows: the caller pings there


def is_closed_while_idle(driver_connection: Any) -> bool | None:
    """True if the server closed ``driver_connection`` (psycopg, asyncpg, PyMySQL or
    asyncmy) while it was idle, False if it looks open; None for a driver it cannot look
    into, or on a platform without ``poll`` (the caller pings instead)."""
    if _POLL is None:
        return None
    try:
        return _closed(driver_connection)
    except Exception:  # psycopg raises for the socket of a broken connection, for one
        return True


def _closed(driver_connection: Any) -> bool | None:
    pgconn = getattr(driver_connection, "pgconn", None)
    if pgconn is not None:  # psycopg 3, sync and async
        return bool(driver_connection.closed) or _readable(pgconn.socket)
    transport = getattr(driver_connection, "_transport", None)
    is_closed = getattr(driver_connection, "is_closed", None)
    if callable(is_closed) and is_closed():  # asyncpg: the loop saw the end
        return True
    if transport is not None:  # asyncpg, asyncmy
        if transport.is_closing():
            return True
        sock = transport.get_extra_info("socket")
        return sock is None or _readable(sock.fileno())
    sock = getattr(driver_connection, "_sock", None)
    if sock is not None and hasattr(sock, "fileno"):  # PyMySQL
        return _readable(sock.fileno())
    return None


def _readable(fd: int) -> bool:
    if fd < 0:
        return True
    assert _POLL is not None
    poller = _POLL()
    poller.register(fd, select.POLLIN | select.POLLPRI)  # POLLERR, POLLHUP: always reported
    return bool(poller.poll(0))
