"""The background sweepers keep going when a sweep fails, and stop when told to."""

from __future__ import annotations

import asyncio
import threading

import pytest

from sessionkit import StoreUnavailable
from sessionkit._sweeper import AsyncSweeper, Sweeper, SweeperEvent
from sessionkit.testing import capture_events


class FlakySweep:
    """A sweep that fails on its first call (the backend is down), then reclaims 2 entries."""

    def __init__(self) -> None:
        self.calls = 0
        self.second_call = threading.Event()

    def __call__(self) -> int:
        self.calls += 1
        if self.calls == 1:
            raise StoreUnavailable("tried: sweeping while the backend is down")
        self.second_call.set()
        return 2


def test_a_failing_sweep_is_logged_and_the_thread_keeps_sweeping() -> None:
    sweep = FlakySweep()
    sweeper = Sweeper(sweep, interval=0.01)
    with capture_events() as logs:
        sweeper.start()
        try:
            assert sweep.second_call.wait(timeout=10)
        finally:
            sweeper.stop()
    assert not sweeper.running
    failed = [log for log in logs if log["event"] == SweeperEvent.FAILED]
    assert len(failed) == 1
    assert failed[0]["log_level"] == "warning"
    assert "StoreUnavailable" in failed[0]["error"]
    assert sweeper.last_error is None  # the sweeps after the failure succeeded
    assert sweeper.swept >= 2


def test_stop_gives_up_on_a_hung_sweep_and_logs_it() -> None:
    entered, release = threading.Event(), threading.Event()

    def hung_sweep() -> int:  # tried: a sweep stuck on a backend that never answers
        entered.set()
        release.wait(timeout=60)
        return 0

    sweeper = Sweeper(hung_sweep, interval=0.01, stop_timeout=0.05)
    sweeper.start()
    try:
        assert entered.wait(timeout=10)
        with capture_events() as logs:
            stopper = threading.Thread(target=sweeper.stop)
            stopper.start()
            stopper.join(timeout=30)  # a generous bound: stop must not wait for the sweep
            assert not stopper.is_alive()
        assert [log["event"] for log in logs] == [SweeperEvent.STOP_TIMED_OUT]
        assert logs[0]["timeout"] == 0.05
    finally:
        release.set()
    assert not sweeper.running


@pytest.mark.parametrize("timeout", [-1, float("nan"), float("inf")])
def test_a_stop_timeout_must_be_finite_seconds(timeout: float) -> None:
    with pytest.raises(ValueError, match="stop timeout"):
        Sweeper(lambda: 0, 1, stop_timeout=timeout)  # tried: a negative, NaN or infinite bound


async def test_a_failing_sweep_is_recorded_and_the_task_keeps_sweeping() -> None:
    sweep = FlakySweep()

    async def sweep_async() -> int:
        return sweep()

    sweeper = AsyncSweeper(sweep_async, interval=0.01)
    sweeper.start()
    assert sweeper.running
    for _ in range(1000):  # bounded wait for the second sweep; nothing asserted on time
        if sweep.second_call.is_set():
            break
        await asyncio.sleep(0.01)
    await sweeper.stop()
    await sweeper.stop()  # idempotent
    assert not sweeper.running
    assert sweeper.last_error is None  # cleared by the successful sweep after the failure
    assert sweeper.runs >= 2
    assert sweeper.swept >= 2


async def test_last_error_holds_the_error_of_a_failed_last_sweep() -> None:
    failed = asyncio.Event()

    async def broken() -> int:
        failed.set()
        raise StoreUnavailable("tried: every sweep failing")

    sweeper = AsyncSweeper(broken, interval=0.01)
    with capture_events() as logs:
        sweeper.start()
        await asyncio.wait_for(failed.wait(), 30)
        for _ in range(1000):  # bounded wait for the failure to be recorded
            if sweeper.runs:
                break
            await asyncio.sleep(0.01)
        await sweeper.stop()
    assert isinstance(sweeper.last_error, StoreUnavailable)
    assert SweeperEvent.FAILED in [log["event"] for log in logs]


@pytest.mark.parametrize("interval", [0, -1, float("nan"), float("inf"), True, "60"])
def test_a_sweep_interval_must_be_positive(interval: float) -> None:
    with pytest.raises(ValueError, match="positive number of seconds"):
        Sweeper(lambda: 0, interval)  # tried: zero, negative, NaN, infinite, a bool, a str
