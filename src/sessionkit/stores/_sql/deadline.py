"""One client-side deadline per store operation: connect, pool wait, statement and reply.

A server that stops sending bytes (a frozen process, a network that silently drops) is
not bounded by server-side timeouts, and psycopg has no read timeout at all. So every
operation runs in a scope with a deadline; when it passes, the connection the operation
holds is *cut*: its socket is shut down (SQLite: the statement is interrupted). The
driver's blocked read then fails at once, SQLAlchemy sees a disconnect and discards the
connection, and the scope raises `StoreUnavailable`. An async operation is also
cancelled, which ends a connect or a pool wait that holds no connection yet; a sync
connect runs on a helper thread that the caller stops waiting for.

The connection involved is never returned to the pool: its socket is dead, and the store
invalidates it explicitly.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import os
import socket
import sqlite3
import threading
import time
from contextvars import ContextVar
from types import TracebackType
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from ...errors import SessionKitError, StoreUnavailable
from .errors import MAPPED_ERRORS, AppFunctionError, translate
from .liveness import is_closed_while_idle, socket_fd

__all__ = [
    "AsyncDeadlineScope",
    "Deadline",
    "DeadlineExceeded",
    "DeadlineScope",
    "current_deadline",
    "instrument",
]

_current: ContextVar[Deadline | None] = ContextVar("sessionkit_sql_deadline", default=None)


class DeadlineExceeded(TimeoutError):
    """The operation's deadline passed before a connection could be opened."""


def current_deadline() -> Deadline | None:
    return _current.get()


class _Cut:
    """Ends one connection's I/O from another thread: a socket shutdown, or an interrupt."""

    __slots__ = ("_interrupt", "_sock")

    def __init__(self, sock: socket.socket | None, interrupt: Any = None) -> None:
        self._sock = sock
        self._interrupt = interrupt

    def fire(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)
        if self._interrupt is not None:
            with contextlib.suppress(Exception):
                self._interrupt()

    def release(self) -> None:
        if self._sock is not None:
            self._sock.close()  # our duplicate of the descriptor only


def _cut_for(driver_connection: Any) -> _Cut | None:
    if isinstance(driver_connection, sqlite3.Connection):
        return _Cut(None, driver_connection.interrupt)
    inner = getattr(driver_connection, "_connection", None)  # aiosqlite
    if isinstance(inner, sqlite3.Connection):
        return _Cut(None, inner.interrupt)
    try:
        fd = socket_fd(driver_connection)
        if fd is None or fd < 0:
            return None
        # A duplicate descriptor: the driver closing (and the system reusing) its own
        # number can never make the cut hit another socket.
        return _Cut(socket.socket(fileno=os.dup(fd)))
    except Exception:  # a closed connection (psycopg raises its own error for .socket)
        return None  # nothing to cut: the operation's cancellation or errors end it


class Deadline:
    """When one operation must be over, and the connections it holds until then."""

    __slots__ = (
        "_cuts",
        "_done",
        "_lock",
        "_on_expire",
        "_watched",
        "expired",
        "expires",
        "seconds",
    )

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expires = time.monotonic() + seconds
        self.expired = False
        self._done = False
        self._cuts: list[_Cut] = []
        self._lock = threading.Lock()
        self._on_expire: Any = None
        self._watched = False

    def remaining(self) -> float:
        return self.expires - time.monotonic()

    def watch(self, driver_connection: Any) -> None:
        """Cut this connection if the deadline passes before the operation ends."""
        self._watched = True
        cut = _cut_for(driver_connection)
        if cut is None:
            return
        with self._lock:
            if not self._done:
                self._cuts.append(cut)
                if self.expired:
                    cut.fire()
                return
        cut.release()

    def expire(self) -> None:
        """The deadline passed: cut every connection the operation holds."""
        with self._lock:
            if self._done or self.expired:
                return
            self.expired = True
            for cut in self._cuts:
                cut.fire()  # under the lock: finish() cannot release it meanwhile
            on_expire, cut_any = self._on_expire, bool(self._cuts)
        if on_expire is not None:
            on_expire(cut_any)

    def finish(self) -> None:
        with self._lock:
            self._done = True
            cuts, self._cuts = self._cuts, []
        for cut in cuts:
            cut.release()

    def error(self) -> StoreUnavailable:
        if not self._watched:
            return StoreUnavailable(
                f"no connection to the database within the {self.seconds:g} s deadline "
                "(timeout=): the pool had none free, or opening one took too long"
            )
        return StoreUnavailable(
            f"the database did not answer within the {self.seconds:g} s deadline "
            "(timeout=); the connection was discarded"
        )


class _Watchdog:
    """One daemon thread that expires the sync store's deadlines (a heap, not a timer each)."""

    def __init__(self) -> None:
        self._reset()
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        self._heap: list[tuple[float, int, Deadline]] = []
        self._counter = itertools.count()
        self._condition = threading.Condition(threading.Lock())
        self._thread: threading.Thread | None = None

    def schedule(self, deadline: Deadline) -> None:
        with self._condition:
            entry = (deadline.expires, next(self._counter), deadline)
            heapq.heappush(self._heap, entry)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="sessionkit-sql-deadlines", daemon=True
                )
                self._thread.start()
            elif self._heap[0] is entry:
                self._condition.notify()

    def _run(self) -> None:
        condition = self._condition
        while True:
            due: list[Deadline] = []
            with condition:
                while not self._heap:
                    condition.wait()
                now = time.monotonic()
                while self._heap and (self._heap[0][2]._done or self._heap[0][0] <= now):
                    _, _, deadline = heapq.heappop(self._heap)
                    if not deadline._done:
                        due.append(deadline)
                if not due and self._heap:
                    condition.wait(self._heap[0][0] - now)
            for deadline in due:
                deadline.expire()


_watchdog = _Watchdog()


def _convert(deadline: Deadline, error: BaseException | None, table_name: str) -> Any:
    """What to raise instead of ``error``: the caller's own error out of its carrier, a
    deadline's `StoreUnavailable`, sessionkit's error for a database error; or None."""
    if error is None:
        return None
    if isinstance(error, AppFunctionError):
        return error
    # Past the deadline, a failure of the database or of the wait for it (a cut socket, a
    # cancellation) is the deadline's; sessionkit's own errors (a corrupt value) stay.
    ours = isinstance(error, SessionKitError) and not isinstance(error, StoreUnavailable)
    if deadline.expired and not ours and not isinstance(error, (KeyboardInterrupt, SystemExit)):
        return deadline.error()
    if isinstance(error, MAPPED_ERRORS) or (
        isinstance(error, TypeError) and not isinstance(error, SessionKitError)
    ):  # a TypeError: a URL option the driver's connect() does not take
        return translate(error, table_name)
    return None


def _raise_instead(deadline: Deadline, error: BaseException | None, table_name: str) -> None:
    replacement = _convert(deadline, error, table_name)
    if isinstance(replacement, AppFunctionError):
        raise replacement.error from None
    if replacement is not None:
        raise replacement from error


class DeadlineScope:
    """``with DeadlineScope(seconds):`` bounds one sync operation (nested scopes share one)."""

    __slots__ = ("_deadline", "_outer", "_seconds", "_table_name", "_token")

    def __init__(self, seconds: float, table_name: str) -> None:
        self._seconds = seconds
        self._table_name = table_name
        self._deadline: Deadline | None = None
        self._outer: Deadline | None = None
        self._token: Any = None

    def __enter__(self) -> Deadline:
        outer = self._outer = _current.get()
        if outer is not None:
            return outer
        self._deadline = Deadline(self._seconds)
        self._token = _current.set(self._deadline)
        _watchdog.schedule(self._deadline)
        return self._deadline

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        deadline = self._deadline
        if deadline is None:
            assert self._outer is not None
            _raise_instead(self._outer, exc, self._table_name)
            return
        deadline.finish()
        _current.reset(self._token)
        _raise_instead(deadline, exc, self._table_name)


#: How long after cutting its connection an async operation is cancelled if still running.
_CANCEL_GRACE = 0.25


class AsyncDeadlineScope:
    """``async with AsyncDeadlineScope(seconds):``: the same for a task, which is also
    cancelled at the deadline (that ends a connect or a pool wait)."""

    __slots__ = (
        "_cancelled",
        "_deadline",
        "_handle",
        "_outer",
        "_seconds",
        "_table_name",
        "_task",
        "_token",
    )

    def __init__(self, seconds: float, table_name: str) -> None:
        self._seconds = seconds
        self._table_name = table_name
        self._outer: Deadline | None = None
        self._deadline: Deadline | None = None
        self._token: Any = None
        self._handle: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[Any] | None = None
        self._cancelled = False

    async def __aenter__(self) -> Deadline:
        outer = self._outer = _current.get()
        if outer is not None:
            return outer
        deadline = self._deadline = Deadline(self._seconds)
        self._task = asyncio.current_task()
        deadline._on_expire = self._cancel
        self._token = _current.set(deadline)
        loop = asyncio.get_running_loop()
        self._handle = loop.call_later(self._seconds, deadline.expire)
        return deadline

    def _cancel(self, cut_any: bool) -> None:
        """Cancel the task, unless a cut connection is about to end the operation anyway:
        psycopg answers a cancellation during a query by sending the server a cancel
        request and waiting 5 s for it, which a frozen server never answers. A backstop
        cancellation follows shortly in case the operation goes on (opens a connection)."""
        task = self._task
        if task is None or self._deadline is None or self._deadline._done:
            return
        if cut_any:
            loop = asyncio.get_running_loop()
            self._handle = loop.call_later(_CANCEL_GRACE, self._cancel, False)
            return
        self._cancelled = True
        task.cancel()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        deadline = self._deadline
        if deadline is None:
            assert self._outer is not None
            _raise_instead(self._outer, exc, self._table_name)
            return
        if self._handle is not None:
            self._handle.cancel()
        deadline.finish()
        _current.reset(self._token)
        if self._cancelled and self._task is not None:
            uncancel = getattr(self._task, "uncancel", None)  # Python 3.11+
            if uncancel is not None:
                uncancel()
        _raise_instead(deadline, exc, self._table_name)


# -- engine instrumentation -----------------------------------------------------------------


def _on_checkout(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    deadline = _current.get()
    if deadline is None or deadline._done:  # a task that outlived its operation's scope
        return
    deadline.watch(getattr(dbapi_connection, "driver_connection", dbapi_connection))


def _on_connect(dbapi_connection: Any, record: Any) -> None:
    record.info["sessionkit_fresh"] = True


def _pinger(dialect: Any) -> Any:
    def ping(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        """A pooled connection the server closed is replaced (SQLAlchemy retries the
        checkout on `DisconnectionError`). Looked at without a round trip where the
        driver allows (liveness.py), else pinged, inside the deadline (SQLAlchemy's own
        pre-ping runs before any hook)."""
        if record.info.pop("sessionkit_fresh", False):
            return
        driver_connection = getattr(dbapi_connection, "driver_connection", dbapi_connection)
        closed = is_closed_while_idle(driver_connection)
        if closed:
            raise sa_exc.DisconnectionError("the server closed the connection while it was idle")
        if closed is not None:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as error:
            deadline = _current.get()
            if deadline is not None and deadline.expired:  # no time left to reconnect
                raise DeadlineExceeded("the deadline passed during the pre-ping") from error
            raise sa_exc.DisconnectionError(f"pre-ping failed: {error!r}") from error

    return ping


def _connect_within_deadline(dialect: Any, record: Any, cargs: Any, cparams: Any) -> Any:
    """Open a sync connection on a helper thread, waiting no longer than the deadline:
    libpq counts its connect timeout in whole seconds (at least 2), and PyMySQL bounds
    each read of the handshake, not the handshake."""
    deadline = _current.get()
    if deadline is None or deadline._done:
        return None
    remaining = deadline.remaining()
    if remaining <= 0:
        raise DeadlineExceeded("no time left to open a connection")
    done = threading.Event()
    outcome: dict[str, Any] = {}
    lock = threading.Lock()

    def connect() -> None:
        try:
            connection = dialect.connect(*cargs, **cparams)
        except BaseException as error:
            outcome["error"] = error
        else:
            with lock:
                abandoned = outcome.get("abandoned", False)
                if not abandoned:
                    outcome["connection"] = connection
            if abandoned:
                with contextlib.suppress(Exception):
                    connection.close()
        done.set()

    threading.Thread(target=connect, name="sessionkit-sql-connect", daemon=True).start()
    done.wait(remaining)
    with lock:
        if "connection" in outcome:
            return outcome["connection"]
        if "error" not in outcome:
            outcome["abandoned"] = True
            raise DeadlineExceeded(f"no connection within the {deadline.seconds:g} s deadline")
    raise outcome["error"]


def instrument(engine: sa.Engine, *, own_ping: bool, threaded_connect: bool) -> None:
    """Hook the deadline into ``engine`` (the sync engine under an async one), once.

    ``own_ping``: the store disabled SQLAlchemy's pre-ping and pings here, after the
    connection is watched. ``threaded_connect``: sync server drivers connect on a thread.
    """
    if sa.event.contains(engine.pool, "checkout", _on_checkout):
        return
    sa.event.listen(engine.pool, "checkout", _on_checkout)
    if own_ping:
        sa.event.listen(engine.pool, "connect", _on_connect)
        sa.event.listen(engine.pool, "checkout", _pinger(engine.dialect))
    if threaded_connect:
        sa.event.listen(engine, "do_connect", _connect_within_deadline)
