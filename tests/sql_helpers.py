"""Test helpers for the SQL store: a free port, and a PgBouncer started on one (the
connection faults use tests/faultproxy.py)."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path


def free_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


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
        # Its output goes to a file, never an unread pipe: pgbouncer logs two lines per
        # client, and once 64 KiB filled the pipe (about 236 connections) it stopped
        # answering logins, which looked like the store's bug.
        output_path = Path(tmp) / "pgbouncer.out"
        output_file = output_path.open("wb")
        process = subprocess.Popen(command, stdout=output_file, stderr=subprocess.STDOUT)
        try:
            for _ in range(100):
                with contextlib.suppress(OSError), socket.create_connection(
                    ("127.0.0.1", port), timeout=0.2
                ):
                    break
                if process.poll() is not None:
                    output = output_path.read_text(errors="replace")
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
            output_file.close()
