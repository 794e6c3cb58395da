"""The fault proxy does what the fault tests rely on, checked against a loopback echo server."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from tests.faultproxy import Fault, FaultProxy, fault_proxy


@pytest.fixture
def echo_server() -> Iterator[tuple[str, int]]:
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve(conn: socket.socket) -> None:
        with conn:
            while not stop.is_set():
                try:
                    data = conn.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                conn.sendall(data)

    def accept() -> None:
        listener.settimeout(0.05)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except (TimeoutError, OSError):
                continue
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()
    stop.set()
    thread.join()
    listener.close()


def _ask(port: int, payload: bytes = b"x" * 64, timeout: float = 1.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(payload)
        received = b""
        while len(received) < len(payload):
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
        return received


def test_forward_relays_and_the_proxy_comes_back_after_each_fault(echo_server) -> None:
    with fault_proxy(echo_server) as proxy:
        assert _ask(proxy.port) == b"x" * 64
        for fault in (Fault.REFUSE, Fault.BLACKHOLE, Fault.DROP_MID_REPLY, Fault.SLOW):
            proxy.set(fault, delay=0.01)
            proxy.set(Fault.FORWARD)
            assert _ask(proxy.port) == b"x" * 64, fault


def test_refuse_resets_open_connections_and_refuses_new_ones(echo_server) -> None:
    with fault_proxy(echo_server) as proxy:
        sock = socket.create_connection(("127.0.0.1", proxy.port), timeout=1)
        sock.sendall(b"ping")
        assert sock.recv(4) == b"ping"
        proxy.set(Fault.REFUSE)
        # The reset reaches the client as a reset error or as end-of-stream: never a reply.
        try:
            sock.sendall(b"ping")
            reply = sock.recv(4)
        except ConnectionError:
            reply = b""
        assert reply == b""
        sock.close()
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", proxy.port), timeout=1)


def test_blackhole_keeps_connections_open_and_moves_no_bytes(echo_server) -> None:
    with fault_proxy(echo_server) as proxy:
        open_before = socket.create_connection(("127.0.0.1", proxy.port), timeout=0.3)
        proxy.set(Fault.BLACKHOLE)
        for sock in (open_before, socket.create_connection(("127.0.0.1", proxy.port), timeout=0.3)):
            with sock:
                sock.sendall(b"ping")
                with pytest.raises(TimeoutError):
                    sock.recv(4)


def test_drop_mid_reply_cuts_the_reply_in_half(echo_server) -> None:
    with fault_proxy(echo_server) as proxy:
        proxy.set(Fault.DROP_MID_REPLY)
        received = b""
        with contextlib.suppress(ConnectionResetError):
            received = _ask(proxy.port, b"y" * 100)
        assert 0 < len(received) < 100 or received == b""


def test_slow_holds_every_reply_for_the_delay(echo_server) -> None:
    with FaultProxy(echo_server, delay=0.3) as proxy:
        proxy.set(Fault.SLOW)
        started = time.monotonic()
        assert _ask(proxy.port, timeout=2) == b"x" * 64
        assert time.monotonic() - started >= 0.3
