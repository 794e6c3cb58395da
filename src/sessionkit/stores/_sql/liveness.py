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

__all__ = ["is_closed_while_idle", "socket_fd"]

_POLL = getattr(select, "poll", None)  # not on Windows: the caller pings there


def is_closed_while_idle(driver_connection: Any) -> bool | None:
    """True if the server closed ``driver_connection`` (psycopg, asyncpg, PyMySQL or
    asyncmy) while it was idle, False if it looks open; None for a driver it cannot look
    into, or on a platform without ``poll`` (the caller pings instead)."""
    if _POLL is None:
        return None
    try:
        if _closed_flag(driver_connection):
            return True
        fd = socket_fd(driver_connection)
    except Exception:  # psycopg raises for the socket of a broken connection, for one
        return True
    if fd is None:
        return None
    return fd < 0 or _readable(fd)


def socket_fd(driver_connection: Any) -> int | None:
    """The socket under a driver connection: psycopg, PyMySQL, asyncpg, asyncmy, aiomysql
    (None: not a driver with a socket it knows; negative: closed)."""
    pgconn = getattr(driver_connection, "pgconn", None)
    if pgconn is not None:
        return int(pgconn.socket)
    sock = getattr(driver_connection, "_sock", None)
    if sock is not None:
        return int(sock.fileno())
    transport = getattr(driver_connection, "_transport", None)
    if transport is None:
        writer = getattr(driver_connection, "_writer", None)
        transport = getattr(writer, "transport", None)
    if transport is not None:
        raw = transport.get_extra_info("socket")
        if raw is not None:
            return int(raw.fileno())
        return -1  # a transport without its socket: closed
    return None


def _closed_flag(driver_connection: Any) -> bool:
    """What the driver itself says: psycopg's ``closed``; for asyncpg and asyncmy, what the
    event loop saw (asyncpg's ``is_closed()``, the transport closing)."""
    if getattr(driver_connection, "pgconn", None) is not None:
        return bool(driver_connection.closed)
    is_closed = getattr(driver_connection, "is_closed", None)
    if callable(is_closed) and is_closed():
        return True
    transport = getattr(driver_connection, "_transport", None)
    return transport is not None and bool(transport.is_closing())


def _readable(fd: int) -> bool:
    assert _POLL is not None
    poller = _POLL()
    poller.register(fd, select.POLLIN | select.POLLPRI)  # POLLERR, POLLHUP: always reported
    return bool(poller.poll(0))
