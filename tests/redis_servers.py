"""Redis servers the test session starts itself: a 3-master cluster, a Sentinel set, a
private standalone server. Each starts on first use, on free loopback ports, and is
stopped at the end of the test session (tests/conftest.py's pytest_sessionfinish, and
atexit as a backstop), so a session that never needs one never pays for it. On Linux the
servers also get SIGTERM when the test process dies (a killed pytest leaves none behind).
Every wait is bounded.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import attrs
import pytest
import redis

from tests.servers import IN_CI

START_TIMEOUT = 30.0  # seconds for any server or cluster to come up


def _binary(name: str, needed_for: str) -> str:
    """The path of ``name``; skips (locally) or fails (CI) the test when there is none."""
    binary = shutil.which(name)
    if binary is None:
        reason = f"{name} is not installed, so {needed_for} cannot be started"
        if IN_CI:
            pytest.fail(f"{reason}, and CI=true", pytrace=False)
        pytest.skip(reason)
    return binary


def redis_server_binary() -> str:
    """The redis-server path; skips (locally) or fails (CI) the test when there is none."""
    return _binary("redis-server", "no test Redis server, cluster or sentinel")


def redis_cli_binary() -> str:
    """The redis-cli path (it creates the cluster); skips or fails like redis-server."""
    return _binary("redis-cli", "no test Redis cluster")


def _die_with_parent() -> Callable[[], None] | None:
    """A preexec_fn asking Linux to SIGTERM the child when this process dies, if possible.

    PR_SET_PDEATHSIG fires when the *thread* that started the child exits, so it is used
    only from the main thread (which lives as long as the test process).
    """
    if not sys.platform.startswith("linux") or threading.current_thread() is not (
        threading.main_thread()
    ):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None
    pr_set_pdeathsig = 1

    def set_death_signal() -> None:
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0)

    return set_death_signal


def free_port(*, with_bus: bool = False) -> int:
    """A loopback port nobody listens on (and port + 10000 too, for a cluster bus)."""
    for _ in range(100):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port: int = sock.getsockname()[1]
        if not with_bus:
            return port
        if port + 10000 < 65536:
            with socket.socket() as bus, contextlib.suppress(OSError):
                bus.bind(("127.0.0.1", port + 10000))
                return port
    raise RuntimeError("found no free loopback port")


def wait_until(what: str, check: Callable[[], bool], timeout: float = START_TIMEOUT) -> None:
    """Poll ``check`` until it is true; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(redis.RedisError, OSError):
            if check():
                return
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up after {timeout} s waiting for {what}")
        time.sleep(0.05)


def client(port: int) -> redis.Redis:
    return redis.Redis("127.0.0.1", port, socket_timeout=5, socket_connect_timeout=5)


@attrs.define
class ServerGroup:
    """redis-server processes started together and stopped together."""

    directory: Path
    processes: list[subprocess.Popen[bytes]] = attrs.field(factory=list)

    def start(self, name: str, *arguments: str, port: int) -> None:
        log = (self.directory / f"{name}.log").open("wb")
        process = subprocess.Popen(
            [redis_server_binary(), *arguments],
            cwd=self.directory,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent(),  # noqa: PLW1509 (no threads start in between)
        )
        log.close()  # the child holds its own descriptor
        self.processes.append(process)

        def ours_is_up() -> bool:
            if process.poll() is not None:  # e.g. another session took the port first
                log_text = (self.directory / f"{name}.log").read_text(errors="replace")
                raise RuntimeError(f"{name} exited with {process.returncode}:\n{log_text}")
            # The PID check makes sure we talk to our server, not one that won the port.
            return bool(probe.info("server")["process_id"] == process.pid)

        with client(port) as probe:
            wait_until(f"{name} on port {port}", ours_is_up)

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        self.processes.clear()
        shutil.rmtree(self.directory, ignore_errors=True)


@contextlib.contextmanager
def server_with_password(password: str) -> Iterator[int]:
    """A private redis-server started with ``--requirepass password``; yields its port."""
    port = free_port()
    process = subprocess.Popen(
        [redis_server_binary(), *_server_arguments(port, "--requirepass", password)],
        stdout=subprocess.DEVNULL,
    )
    try:
        with redis.Redis(port=port, password=password) as probe:
            wait_until("redis-server with requirepass", probe.ping, timeout=15)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


def _server_arguments(port: int, *extra: str) -> list[str]:
    # No persistence: these servers live for one test session.
    return ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            *extra]


@attrs.define
class Cluster:
    ports: list[int]
    group: ServerGroup

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"127.0.0.1:{port}" for port in self.ports)


def start_cluster(masters: int = 3) -> Cluster:
    redis_cli = redis_cli_binary()  # before any server starts
    group = ServerGroup(Path(tempfile.mkdtemp(prefix="sk-cluster-")))
    try:
        ports = []
        for _ in range(masters):
            port = free_port(with_bus=True)
            ports.append(port)
            group.start(
                f"cluster-{port}",
                *_server_arguments(
                    port,
                    "--cluster-enabled", "yes",
                    "--cluster-config-file", f"nodes-{port}.conf",
                    "--cluster-node-timeout", "2000",
                ),
                port=port,
            )
        subprocess.run(
            [redis_cli, "--cluster", "create",
             *(f"127.0.0.1:{port}" for port in ports),
             "--cluster-replicas", "0", "--cluster-yes"],
            check=True, capture_output=True, timeout=START_TIMEOUT,
        )
        for port in ports:
            with client(port) as node:
                wait_until(
                    f"cluster node {port} to report cluster_state:ok",
                    lambda node=node: node.cluster("info").get("cluster_state") == "ok",
                )
        return Cluster(ports, group)
    except BaseException:
        group.stop()
        raise


@attrs.define
class SentinelSet:
    """One master, one replica and one sentinel watching them as ``service``."""

    ports: dict[str, int]  # the ports the master and replica started on, and the sentinel's
    group: ServerGroup
    service: str = "skmaster"

    @property
    def url(self) -> str:
        return f"redis+sentinel://127.0.0.1:{self.ports['sentinel']}/{self.service}"

    def sentinel(self) -> redis.Redis:
        return client(self.ports["sentinel"])

    def master_port(self) -> int:
        with self.sentinel() as sentinel:
            _host, port = sentinel.sentinel_get_master_addr_by_name(self.service)
        return int(port)

    def wait_healthy(self) -> None:
        """Until the master has its replica in sync and the sentinel knows both."""
        master = self.master_port()
        replica = next(p for p in (self.ports["master"], self.ports["replica"]) if p != master)
        with client(master) as m, client(replica) as r, self.sentinel() as s:
            wait_until("the replica to be in sync",
                       lambda: r.info("replication").get("master_link_status") == "up"
                       and r.info("replication").get("master_port") == master)
            wait_until("the master to count its replica",
                       lambda: m.info("replication").get("connected_slaves") == 1)
            wait_until("the sentinel to know the replica", lambda: _sentinel_knows_replica(
                s, self.service, replica))

    def failover(self) -> int:
        """Promote the replica (SENTINEL FAILOVER); return the new master's port."""
        self.wait_healthy()
        old = self.master_port()
        with self.sentinel() as sentinel:
            sentinel.execute_command("SENTINEL", "FAILOVER", self.service)
        wait_until("the sentinel to name a new master", lambda: self.master_port() != old)
        new = self.master_port()
        with client(new) as promoted:
            wait_until("the promoted replica to act as master",
                       lambda: promoted.execute_command("ROLE")[0] == b"master")
        # Not waiting for the old master to resync: the next failover waits for that.
        return new


def _sentinel_knows_replica(sentinel: redis.Redis, service: str, port: int) -> bool:
    return any(
        int(replica["port"]) == port
        and replica["master-link-status"] == "ok"
        and not (replica["is_sdown"] or replica["is_odown"] or replica["is_disconnected"])
        for replica in sentinel.sentinel_slaves(service)
    )


def start_sentinel_set() -> SentinelSet:
    group = ServerGroup(Path(tempfile.mkdtemp(prefix="sk-sentinel-")))
    try:
        ports = {"master": free_port(), "replica": free_port(), "sentinel": free_port()}
        group.start("master", *_server_arguments(ports["master"]), port=ports["master"])
        group.start(
            "replica",
            *_server_arguments(ports["replica"], "--replicaof", "127.0.0.1", str(ports["master"])),
            port=ports["replica"],
        )
        service = "skmaster"
        config = group.directory / "sentinel.conf"
        config.write_text(
            f"port {ports['sentinel']}\n"
            "bind 127.0.0.1\n"
            f"dir {group.directory}\n"
            f"sentinel monitor {service} 127.0.0.1 {ports['master']} 1\n"
            f"sentinel down-after-milliseconds {service} 2000\n"
            f"sentinel failover-timeout {service} 10000\n"
        )
        group.start("sentinel", str(config), "--sentinel", port=ports["sentinel"])
        sentinels = SentinelSet(ports, group, service)
        sentinels.wait_healthy()
        return sentinels
    except BaseException:
        group.stop()
        raise


@attrs.define
class Standalone:
    """A private server: safe for SCRIPT FLUSH, with a unix socket and a TLS port."""

    port: int
    socket_path: Path
    tls_port: int | None  # None when openssl is not there to make a certificate
    ca_file: Path
    group: ServerGroup

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


def _make_certificate(directory: Path) -> bool:
    """A self-signed certificate for 127.0.0.1 (it is its own CA)."""
    if shutil.which("openssl") is None:
        return False
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", "tls.key", "-out", "tls.crt", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        cwd=directory, check=True, capture_output=True, timeout=START_TIMEOUT,
    )
    return True


def start_standalone() -> Standalone:
    group = ServerGroup(Path(tempfile.mkdtemp(prefix="sk-redis-")))
    try:
        port = free_port()
        socket_path = group.directory / "redis.sock"
        arguments = ["--unixsocket", str(socket_path), "--unixsocketperm", "700"]
        tls_port = None
        if _make_certificate(group.directory):
            tls_port = free_port()
            arguments += [
                "--tls-port", str(tls_port),
                "--tls-cert-file", "tls.crt",
                "--tls-key-file", "tls.key",
                "--tls-ca-cert-file", "tls.crt",
                "--tls-auth-clients", "no",
            ]
        group.start("standalone", *_server_arguments(port, *arguments), port=port)
        return Standalone(port, socket_path, tls_port, group.directory / "tls.crt", group)
    except BaseException:
        group.stop()
        raise


class SilentServer:
    """A TCP server that accepts connections and never answers: a hung Redis.

    ``accepted`` counts connections, which shows how often a client (re)connects.
    """

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.port: int = self._listener.getsockname()[1]
        self.accepted = 0
        self._connections: list[socket.socket] = []
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stopping.is_set():
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted += 1
            self._connections.append(connection)

    def close(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)
        for connection in self._connections:
            connection.close()
        self._listener.close()


_Started = TypeVar("_Started", Cluster, SentinelSet, Standalone)
_started: dict[str, Any] = {}
_lock = threading.Lock()


def _once(name: str, start: Callable[[], _Started]) -> _Started:
    with _lock:
        if name not in _started:
            if not _started:
                atexit.register(stop_all)
            _started[name] = start()
        return _started[name]  # type: ignore[no-any-return]


def stop_all() -> None:
    """Stop every server started so far (at exit; a session-finish hook may call it too)."""
    with _lock:
        for started in _started.values():
            started.group.stop()
        _started.clear()


def cluster() -> Cluster:
    """The session's 3-master cluster, started on first use."""
    return _once("cluster", start_cluster)


def sentinel_set() -> SentinelSet:
    """The session's Sentinel set, started on first use."""
    return _once("sentinel", start_sentinel_set)


def standalone() -> Standalone:
    """The session's private standalone server, started on first use."""
    return _once("standalone", start_standalone)


class RedisProcess:
    """One redis-server on a free loopback port, with an fsync-always append-only file.

    For fault injection: a test kills it (SIGKILL) and starts it again on the same port.
    """

    def __init__(self, directory: Path) -> None:
        self.binary = redis_server_binary()
        self.port = free_port()
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        arguments = ["--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        arguments += ["--appendonly", "yes", "--appendfsync", "always"]
        arguments += ["--dir", str(self.directory), "--logfile", "redis.log"]
        self.process = subprocess.Popen([self.binary, *arguments], stdout=subprocess.DEVNULL)
        with client(self.port) as probe:
            wait_until(f"redis-server on {self.port}", lambda: bool(probe.ping()), timeout=15)

    def kill(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self.process = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None
