"""Test helpers for the SQL store: a TCP proxy that can be stopped or made to hang, a
closed port, and a PgBouncer started on a free loopback port."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path


def free_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class TCPProxy:
    """Forwards a loopback port to a server; ``stop()`` drops every connection and stops
    listening (the server "goes down"), ``hang()`` keeps connections open but forwards
    nothing more (the server "hangs"), ``start()`` brings it back."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self.hanging = False

    def start(self) -> None:
        self.hanging = False
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def hang(self) -> None:
        self.hanging = True

    def stop(self) -> None:
        with self._lock:
            if self._listener is not None:
                # shutdown wakes the thread blocked in accept(); close alone may not.
                with contextlib.suppress(OSError):
                    self._listener.shutdown(socket.SHUT_RDWR)
                self._listener.close()
                self._listener = None
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._sockets.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # stopped
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                return
            if not data:
                with contextlib.suppress(OSError):
                    sink.shutdown(socket.SHUT_WR)
                return
            while self.hanging:  # hold the bytes: the peer waits for an answer forever
                time.sleep(0.05)
                if source.fileno() == -1:
                    return
            try:
                sink.sendall(data)
            except OSError:
                return


@contextlib.contextmanager
def tcp_proxy(target: tuple[str, int]) -> Iterator[TCPProxy]:
    proxy = TCPProxy(target)
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.hanging = False
        proxy.stop()


@contextlib.contextmanager
def silent_listener() -> Iterator[int]:
    """A port that accepts connections and never says a word (a hung server)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    accepted: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            accepted.append(conn)

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        listener.close()
        for conn in accepted:
            conn.close()


PGBOUNCER = shutil.which("pgbouncer") or (
    "/usr/sbin/pgbouncer" if Path("/usr/sbin/pgbouncer").exists() else None
)


@contextlib.contextmanager
def pgbouncer(database: str = "test", pool_size: int = 1) -> Iterator[int]:
    """PgBouncer in transaction mode on a free loopback port, in front of 127.0.0.1:5432.

    ``pool_size=1`` makes every client share one server connection, which is exactly
    when prepared statements leak from one client to the next.
    """
    assert PGBOUNCER is not None
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "pgbouncer.ini"
        (Path(tmp) / "users.txt").write_text('"postgres" ""\n')
        config.write_text(
            f"""[databases]
{database} = host=127.0.0.1 port=5432 dbname={database} user=postgres

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {tmp}/users.txt
pool_mode = transaction
default_pool_size = {pool_size}
max_client_conn = 200
ignore_startup_parameters = extra_float_digits,options
logfile = {tmp}/pgbouncer.log
pidfile = {tmp}/pgbouncer.pid
"""
        )
        command = [PGBOUNCER, str(config)]
        if os.geteuid() == 0:
            command.insert(1, "--user=postgres")  # pgbouncer refuses to run as root
            shutil.chown(tmp, "postgres")
            for path in Path(tmp).iterdir():
                shutil.chown(path, "postgres")
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            for _ in range(100):
                with contextlib.suppress(OSError), socket.create_connection(
                    ("127.0.0.1", port), timeout=0.2
                ):
                    break
                if process.poll() is not None:
                    output = process.stdout.read().decode() if process.stdout else ""
                    log = Path(tmp) / "pgbouncer.log"
                    raise RuntimeError(
                        f"pgbouncer exited: {output} {log.read_text() if log.exists() else ''}"
                    )
                time.sleep(0.1)
            yield port
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if process.stdout:
                process.stdout.close()
