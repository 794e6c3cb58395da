"""A loopback TCP proxy that injects the faults a deployed store meets.

Put it between a store and its server, then switch the fault at any moment::

    with FaultProxy(("127.0.0.1", 6379)) as proxy:
        store = open_store(f"redis://127.0.0.1:{proxy.port}/0")
        proxy.set(Fault.BLACKHOLE)      # the server freezes: bytes stop moving both ways
        ...                             # assert StoreUnavailable within the deadline
        proxy.set(Fault.FORWARD)        # the server is back

The faults:

- ``FORWARD``: a plain relay.
- ``REFUSE``: the port stops listening and every open connection is reset (a server that is
  down, a host that answers with RST).
- ``BLACKHOLE``: connections stay open and new ones are accepted (the kernel completes the
  handshake), but no byte moves in either direction: a frozen server whose kernel still ACKs, or
  a network that silently drops.
- ``DROP_MID_REPLY``: requests are relayed; the next reply is cut after its first half and the
  connection reset.
- ``SLOW``: every reply chunk is held for ``delay`` seconds before it is relayed.

Everything runs on daemon threads and stops with :meth:`FaultProxy.close`.
"""

from __future__ import annotations

import contextlib
import enum
import select
import socket
import struct
import threading
import time
from collections.abc import Iterator
from types import TracebackType

__all__ = ["Fault", "FaultProxy"]

_POLL = 0.02  # how often a relay looks at the current fault, in seconds
_CHUNK = 65536


class Fault(enum.Enum):
    FORWARD = "forward"
    REFUSE = "refuse"
    BLACKHOLE = "blackhole"
    DROP_MID_REPLY = "drop-mid-reply"
    SLOW = "slow"


def _reset(sock: socket.socket) -> None:
    """Close with RST rather than FIN, as a crashed peer does."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()


class FaultProxy:
    """Relays ``127.0.0.1:<port>`` to ``target`` with the fault set by :meth:`set`."""

    def __init__(self, target: tuple[str, int], *, delay: float = 1.0) -> None:
        self.target = target
        self.delay = delay
        self._fault = Fault.FORWARD
        self._lock = threading.Lock()
        self._pairs: list[tuple[socket.socket, socket.socket | None]] = []
        self._closed = False
        self._listener: socket.socket | None = None
        self.port = self._listen(0)
        self._accepting = threading.Thread(target=self._accept_loop, daemon=True)
        self._accepting.start()

    # -- control -------------------------------------------------------------------------

    @property
    def fault(self) -> Fault:
        return self._fault

    def set(self, fault: Fault, *, delay: float | None = None) -> None:
        """Switch to ``fault`` now, for open and new connections alike."""
        if delay is not None:
            self.delay = delay
        with self._lock:
            previous, self._fault = self._fault, fault
            if fault is Fault.REFUSE:
                self._drop_everything()
            elif previous is Fault.REFUSE:
                self._listen(self.port)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._drop_everything()
        self._accepting.join(timeout=5)

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def connections(self) -> int:
        """How many client connections are open through the proxy right now."""
        with self._lock:
            return len(self._pairs)

    # -- internals -----------------------------------------------------------------------

    def _listen(self, port: int) -> int:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(128)
        self._listener = listener
        return int(listener.getsockname()[1])

    def _drop_everything(self) -> None:
        """Reset every connection and stop listening (called with the lock held)."""
        if self._listener is not None:
            # shutdown() stops the listening at once, even while the accept loop selects on it.
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            _reset(self._listener)
            self._listener = None
        for client, upstream in self._pairs:
            _reset(client)
            if upstream is not None:
                _reset(upstream)
        self._pairs.clear()

    def _accept_loop(self) -> None:
        while not self._closed:
            listener = self._listener
            if listener is None:
                time.sleep(_POLL)
                continue
            try:
                ready, _, _ = select.select([listener], [], [], _POLL)
                if not ready:
                    continue
                client, _ = listener.accept()
            except (OSError, ValueError):
                continue  # the listener was closed under us by REFUSE or close()
            threading.Thread(target=self._relay, args=(client,), daemon=True).start()

    def _connect_upstream(self, client: socket.socket) -> socket.socket | None:
        # A black hole accepts and then says nothing; wait for it to lift.
        while self._fault is Fault.BLACKHOLE and not self._closed:
            time.sleep(_POLL)
        try:
            return socket.create_connection(self.target, timeout=5)
        except OSError:
            _reset(client)
            return None

    def _relay(self, client: socket.socket) -> None:
        with self._lock:
            if self._closed or self._fault is Fault.REFUSE:
                _reset(client)
                return
            self._pairs.append((client, None))
        upstream = self._connect_upstream(client)
        if upstream is None:
            self._forget(client)
            return
        with self._lock:
            if (client, None) not in self._pairs:  # dropped while connecting
                _reset(upstream)
                return
            self._pairs.remove((client, None))
            self._pairs.append((client, upstream))
        try:
            self._pump(client, upstream)
        finally:
            self._forget(client)
            _reset(client)
            _reset(upstream)

    def _forget(self, client: socket.socket) -> None:
        with self._lock:
            self._pairs = [pair for pair in self._pairs if pair[0] is not client]

    def _pump(self, client: socket.socket, upstream: socket.socket) -> None:
        while not self._closed:
            fault = self._fault
            if fault is Fault.REFUSE:
                return
            if fault is Fault.BLACKHOLE:
                time.sleep(_POLL)  # hold both sockets open and read nothing
                continue
            try:
                ready, _, _ = select.select([client, upstream], [], [], _POLL)
            except (OSError, ValueError):
                return
            for source in ready:
                try:
                    data = source.recv(_CHUNK)
                except OSError:
                    return
                if not data:
                    return
                if source is client:
                    if not _send(upstream, data):
                        return
                    continue
                # A reply from the server.
                fault = self._fault
                if fault is Fault.DROP_MID_REPLY:
                    _send(client, data[: max(1, len(data) // 2)])
                    return
                if fault is Fault.SLOW:
                    time.sleep(self.delay)
                elif fault is Fault.BLACKHOLE:
                    while self._fault is Fault.BLACKHOLE and not self._closed:
                        time.sleep(_POLL)
                if not _send(client, data):
                    return


def _send(sock: socket.socket, data: bytes) -> bool:
    try:
        sock.sendall(data)
    except OSError:
        return False
    return True


@contextlib.contextmanager
def fault_proxy(target: tuple[str, int], *, delay: float = 1.0) -> Iterator[FaultProxy]:
    """A :class:`FaultProxy` that is closed when the block ends."""
    proxy = FaultProxy(target, delay=delay)
    try:
        yield proxy
    finally:
        proxy.close()
