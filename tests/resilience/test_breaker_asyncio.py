"""CircuitBreaking under asyncio: what counts, what does not, and the half-open probe."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import pybreaker
import pytest

from sessionkit import AsyncMemoryStore, InvalidKey, MemoryStore, StoreUnavailable
from sessionkit.errors import CircuitOpen
from sessionkit.resilience import AsyncCircuitBreaking, CircuitBreaking, Event, State
from sessionkit.testing import AsyncFlakyStore, FlakyStore
from tests.resilience.recorder import Recorder


class ManualClock:
    """Monotonic seconds that move only when told to."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class GatedStore(AsyncFlakyStore):
    """``get`` waits at a gate, so a test can hold calls in flight."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.entered = 0

    async def get(self, key: str) -> dict[str, Any] | None:
        self._enter("get")
        self.entered += 1
        await self.gate.wait()
        return await AsyncMemoryStore.get(self, key)


def make(
    backend: AsyncFlakyStore, fail_max: int = 3
) -> tuple[AsyncCircuitBreaking, ManualClock, Recorder]:
    clock, recorder = ManualClock(), Recorder()
    store = AsyncCircuitBreaking(
        backend, fail_max=fail_max, reset_timeout=30, clock=clock, observers=[recorder]
    )
    return store, clock, recorder


async def trip(store: AsyncCircuitBreaking, backend: AsyncFlakyStore, times: int) -> None:
    backend.down = True
    for _ in range(times):
        with pytest.raises(StoreUnavailable):
            await store.exists("k")
    backend.down = False


async def wait_for(condition: Any, what: str) -> None:
    for _ in range(1000):  # bounded: a few event-loop turns are enough
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError(f"never happened: {what}")


async def test_it_opens_after_fail_max_outages_and_then_fails_fast() -> None:
    backend = AsyncFlakyStore()
    store, _, recorder = make(backend)
    await trip(store, backend, 2)
    assert store.breaker.state == State.CLOSED
    await trip(store, backend, 1)
    assert store.breaker.state == State.OPEN
    calls = dict(backend.calls)
    with pytest.raises(CircuitOpen) as raised:
        await store.set("k", {})
    assert isinstance(raised.value, StoreUnavailable)
    assert raised.value.retry_after == 30
    assert backend.calls == calls  # the backend was not called
    assert recorder.of(Event.BREAKER_STATE_CHANGED) == [
        {"breaker": "sessionkit", "old": "closed", "new": "open"}
    ]


async def test_a_success_resets_the_consecutive_failure_count() -> None:
    backend = AsyncFlakyStore()
    store, _, _ = make(backend)
    await trip(store, backend, 2)
    await store.set("k", {})
    await trip(store, backend, 2)
    assert store.breaker.state == State.CLOSED


async def test_errors_that_are_not_outages_do_not_count() -> None:
    store, _, _ = make(AsyncFlakyStore(), fail_max=1)
    for _ in range(5):
        with pytest.raises(InvalidKey):
            await store.get("bad key")
        with pytest.raises(ZeroDivisionError):
            await store.update("k", lambda v: {"x": 1 / 0}, default={})
    assert store.breaker.state == State.CLOSED
    assert store.breaker.fail_counter == 0


async def test_exclusions_are_not_counted() -> None:
    class Maintenance(StoreUnavailable):
        pass

    backend = AsyncFlakyStore()
    store = AsyncCircuitBreaking(backend, fail_max=1, exclude=[Maintenance])

    async def failing() -> None:
        raise Maintenance("planned")

    for _ in range(3):
        with pytest.raises(Maintenance), store.breaker.guard("get"):
            await failing()
    assert store.breaker.state == State.CLOSED


async def test_cancelled_calls_are_neither_failures_nor_successes() -> None:
    backend = GatedStore()
    store, _, _ = make(backend, fail_max=2)
    await trip(store, backend, 1)
    assert store.breaker.fail_counter == 1
    tasks = [asyncio.create_task(store.get("k")) for _ in range(10)]
    await wait_for(lambda: backend.entered == 10, "10 calls in flight")
    for task in tasks:
        task.cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(r, asyncio.CancelledError) for r in results)
    # Not failures (it would be open now) and not successes (the count would be 0).
    assert store.breaker.state == State.CLOSED
    assert store.breaker.fail_counter == 1


def test_pybreakers_own_calling_counts_a_cancellation_which_is_why_it_is_not_used() -> None:
    breaker = pybreaker.CircuitBreaker(fail_max=1)
    with pytest.raises(pybreaker.CircuitBreakerError), breaker.calling():
        raise asyncio.CancelledError
    assert breaker.current_state == pybreaker.STATE_OPEN


async def test_half_open_lets_exactly_one_probe_through_among_20_tasks() -> None:
    backend = GatedStore()
    store, clock, recorder = make(backend, fail_max=1)
    await trip(store, backend, 1)
    clock.now += 30  # the reset timeout has passed
    entered_before = backend.entered
    tasks = [asyncio.create_task(store.get("k")) for _ in range(20)]
    await wait_for(lambda: sum(t.done() for t in tasks) == 19, "19 tasks failed fast")
    assert backend.entered - entered_before == 1  # one probe reached the backend
    assert store.breaker.state == State.HALF_OPEN
    backend.gate.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    rejected = [r for r in results if isinstance(r, CircuitOpen)]
    assert len(rejected) == 19
    assert [r for r in results if not isinstance(r, CircuitOpen)] == [None]  # the probe
    assert store.breaker.state == State.CLOSED
    assert [(e["old"], e["new"]) for e in recorder.of(Event.BREAKER_STATE_CHANGED)] == [
        ("closed", "open"),
        ("open", "half-open"),
        ("half-open", "closed"),
    ]


async def test_a_cancelled_probe_hands_the_probe_to_the_next_caller() -> None:
    backend = GatedStore()
    store, clock, _ = make(backend, fail_max=1)
    await trip(store, backend, 1)
    clock.now += 31
    probe = asyncio.create_task(store.get("k"))
    await wait_for(lambda: backend.entered == 1, "the probe in flight")
    probe.cancel()
    with pytest.raises(asyncio.CancelledError):
        await probe
    assert store.breaker.state == State.HALF_OPEN
    backend.gate.set()
    assert await store.get("k") is None  # this caller is the new probe
    assert store.breaker.state == State.CLOSED


async def test_a_failed_probe_opens_the_breaker_for_another_reset_timeout() -> None:
    backend = AsyncFlakyStore()
    store, clock, _ = make(backend, fail_max=1)
    await trip(store, backend, 1)
    clock.now += 30
    backend.down = True
    with pytest.raises(StoreUnavailable) as raised:
        await store.get("k")
    assert not isinstance(raised.value, CircuitOpen)  # the probe reached the backend
    assert store.breaker.state == State.OPEN
    clock.now += 29
    with pytest.raises(CircuitOpen):
        await store.get("k")
    clock.now += 1
    backend.down = False
    assert await store.get("k") is None
    assert store.breaker.state == State.CLOSED


async def test_a_scan_probe_gives_its_verdict_when_the_first_batch_arrives() -> None:
    backend = AsyncFlakyStore()
    store, clock, _ = make(backend, fail_max=1)
    await backend.set_many({f"k{i}": {} for i in range(5)})
    await trip(store, backend, 1)
    clock.now += 30
    scan = store.scan("k")  # the scan is the half-open probe
    assert isinstance(scan, AsyncGenerator)
    assert (await scan.__anext__()).startswith("k")
    # The backend answered: the breaker closes now, not when (if ever) the consumer
    # finishes or closes the iteration.
    assert store.breaker.state == State.CLOSED
    assert await store.get("k1") == {}  # other calls go through meanwhile
    clock.now += 3600
    assert await store.get("k2") == {}
    await scan.aclose()  # abandoning it afterwards is no verdict
    assert store.breaker.state == State.CLOSED
    assert store.breaker.fail_counter == 0


async def test_an_abandoned_scan_is_no_verdict() -> None:
    # The probe is a scan whose consumer gives up before the first batch arrives: no
    # verdict on the backend, and the next caller probes instead.
    started = asyncio.Event()

    class HangingScan(AsyncFlakyStore):
        async def scan(self, prefix: str = "", *, batch_size: int = 500) -> AsyncIterator[str]:
            started.set()
            await asyncio.Event().wait()  # the first batch never comes
            yield ""  # pragma: no cover

    backend = HangingScan()
    store, clock, _ = make(backend, fail_max=1)
    await trip(store, backend, 1)
    clock.now += 30

    async def consume() -> list[str]:
        return [key async for key in store.scan("k")]

    probe = asyncio.create_task(consume())
    await started.wait()
    assert store.breaker.state == State.HALF_OPEN
    with pytest.raises(CircuitOpen):
        await store.get("k")  # the scan holds the probe
    probe.cancel()
    with pytest.raises(asyncio.CancelledError):
        await probe
    assert store.breaker.state == State.HALF_OPEN  # neither a failure nor a success
    assert await store.get("k") is None  # this caller is the new probe
    assert store.breaker.state == State.CLOSED


async def test_a_scan_that_fails_after_its_first_batch_counts_as_an_ordinary_failure() -> None:
    class DiesMidScan(AsyncFlakyStore):
        async def scan(self, prefix: str = "", *, batch_size: int = 500) -> AsyncIterator[str]:
            yield "k0"
            raise StoreUnavailable("connection lost mid-scan")

    store, _, _ = make(DiesMidScan(), fail_max=2)
    with pytest.raises(StoreUnavailable):
        [key async for key in store.scan("k")]
    assert (store.breaker.state, store.breaker.fail_counter) == (State.CLOSED, 1)


async def test_observers_run_after_the_breaker_lock_is_released() -> None:
    backend = AsyncFlakyStore()
    held: list[bool] = []

    class LockProbe:
        def notify(self, event: str, fields: dict[str, Any]) -> None:
            lock = store.breaker._lock
            free = lock.acquire(blocking=False)
            if free:
                lock.release()
            held.append(not free)

    store = AsyncCircuitBreaking(
        backend, fail_max=1, reset_timeout=30, clock=ManualClock(), observers=[LockProbe()]
    )
    await trip(store, backend, 1)  # closed -> open
    with pytest.raises(CircuitOpen):  # rejected
        await store.get("k")
    assert len(held) == 2
    assert not any(held)


def test_the_sync_breaker_shares_the_same_rules() -> None:
    backend, clock = FlakyStore(), ManualClock()
    store = CircuitBreaking(backend, fail_max=2, reset_timeout=5, clock=clock)
    backend.down = True
    for _ in range(2):
        with pytest.raises(StoreUnavailable):
            store.get("k")
    with pytest.raises(CircuitOpen):
        store.get("k")
    backend.down = False
    clock.now += 5
    assert store.get("k") is None
    assert store.breaker.state == State.CLOSED
    assert isinstance(store.inner, MemoryStore)
