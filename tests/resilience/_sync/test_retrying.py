# Generated from tests/resilience/_async/test_retrying.py by scripts/unasync.py: edit that file, not this one.
"""RetryingStore: which errors and operations it retries, how long it waits, what it reports."""

from __future__ import annotations

from typing import Any

import pytest

from sessionkit import ConflictError, InvalidKey, StoreUnavailable
from sessionkit.errors import CircuitOpen
from sessionkit.resilience import IDEMPOTENT_OPERATIONS, RetryingStore, Event, RetryPolicy
from sessionkit.testing import FlakyStore
from tests.resilience.recorder import Recorder


class Sleeps:
    """An injected sleep that records the waits instead of waiting."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def make(
    policy: RetryPolicy | None = None,
) -> tuple[FlakyStore, RetryingStore, Sleeps, Recorder]:
    backend, sleeps, recorder = FlakyStore(), Sleeps(), Recorder()
    store = RetryingStore(backend, policy=policy, sleep=sleeps, observers=[recorder])
    return backend, store, sleeps, recorder


def test_a_transient_outage_is_retried_with_the_seed_003_backoff() -> None:
    backend, store, sleeps, recorder = make()
    backend.set("k", {"v": 1})
    backend.fail_after = 0  # the next call fails ...
    calls = backend.calls.get("get", 0)

    def back_up(seconds: float) -> None:
        sleeps.waits.append(seconds)
        backend.down = len(sleeps.waits) < 2  # ... and so does the first retry

    store._sleep = back_up
    assert store.get("k") == {"v": 1}
    assert backend.calls["get"] == calls + 1  # only the third attempt reached the data
    assert len(sleeps.waits) == 2
    assert 1.0 <= sleeps.waits[0] <= 1.5  # 1 s + up to 0.5 s of jitter
    assert 2.0 <= sleeps.waits[1] <= 2.5
    scheduled = recorder.of(Event.RETRY_SCHEDULED)
    assert [e["attempt"] for e in scheduled] == [1, 2]
    assert {e["operation"] for e in scheduled} == {"get"}


def test_attempts_are_bounded_and_the_last_error_is_raised() -> None:
    backend, store, sleeps, recorder = make()
    backend.down = True
    with pytest.raises(StoreUnavailable, match="down"):
        store.set("k", {"v": 1})
    assert len(sleeps.waits) == 2  # 3 attempts
    assert recorder.of(Event.RETRY_EXHAUSTED)[0]["attempts"] == 3


def test_waits_are_capped() -> None:
    policy = RetryPolicy(attempts=6, initial_wait=1.0, max_wait=4.0, jitter=0.0)
    backend, store, sleeps, _ = make(policy)
    backend.down = True
    with pytest.raises(StoreUnavailable):
        store.get("k")
    assert sleeps.waits == [1.0, 2.0, 4.0, 4.0, 4.0]


def test_each_call_starts_with_a_fresh_retry_state() -> None:
    backend, store, sleeps, _ = make(RetryPolicy(jitter=0.0))
    backend.down = True
    for _ in range(2):
        with pytest.raises(StoreUnavailable):
            store.get("k")
    assert sleeps.waits == [1.0, 2.0, 1.0, 2.0]


class SlowDownBackend(FlakyStore):
    """Down for good, and each attempt takes ``attempt_s`` seconds of a fake clock."""

    def __init__(self, attempt_s: float) -> None:
        super().__init__()
        self.down = True
        self.now = 0.0
        self.attempt_s = attempt_s
        self.attempts = 0

    def monotonic(self) -> float:
        return self.now

    def exists(self, key: str) -> bool:
        self.attempts += 1
        self.now += self.attempt_s
        return super().exists(key)


def test_total_time_bounds_the_attempts_when_attempts_are_slow() -> None:
    # 100 attempts allowed, no waits, but each attempt takes 1 s and max_delay is 5 s:
    # retries start at 0, 1, 2, 3, 4 s after the first failure; the one due at 5 s is
    # never made. The attempt count shows the bound, with no real time involved.
    policy = RetryPolicy(attempts=100, initial_wait=0.0, max_wait=0.0, jitter=0.0, max_delay=5)
    backend = SlowDownBackend(attempt_s=1.0)
    recorder = Recorder()
    store = RetryingStore(
        backend, policy=policy, sleep=Sleeps(), clock=backend.monotonic, observers=[recorder]
    )
    with pytest.raises(StoreUnavailable):
        store.exists("k")
    assert backend.attempts == 1 + 5
    assert recorder.of(Event.RETRY_EXHAUSTED) == [
        {"operation": "exists", "attempts": 6, "elapsed_s": 5.0}
    ]


def test_total_time_counts_the_waits_and_stops_before_a_late_retry() -> None:
    policy = RetryPolicy(attempts=100, initial_wait=1.0, max_wait=4.0, jitter=0.0, max_delay=10)
    backend = SlowDownBackend(attempt_s=0.5)
    sleeps = Sleeps()

    def fake_sleep(seconds: float) -> None:
        sleeps.waits.append(seconds)
        backend.now += seconds

    store = RetryingStore(backend, policy=policy, sleep=fake_sleep, clock=backend.monotonic)
    with pytest.raises(StoreUnavailable):
        store.exists("k")
    # From the first failure: wait 1 (retry at 1), +0.5, wait 2 (at 3.5), +0.5, wait 4
    # (at 8); then 8.5 + a 4 s wait would start the next retry at 12.5 > 10: stop.
    assert sleeps.waits == [1.0, 2.0, 4.0]
    assert backend.attempts == 4


@pytest.mark.parametrize(
    ("operation", "call"),
    [
        ("get", lambda s: s.get("k")),
        ("get_entry", lambda s: s.get_entry("k")),
        ("exists", lambda s: s.exists("k")),
        ("ttl", lambda s: s.ttl("k")),
        ("get_many", lambda s: s.get_many(["k"])),
        ("count", lambda s: s.count("")),
        ("set", lambda s: s.set("k", {})),
        ("set_many", lambda s: s.set_many({"k": {}})),
        ("merge", lambda s: s.merge("k", {})),
        ("delete", lambda s: s.delete("k")),
        ("touch", lambda s: s.touch("k")),
        ("purge", lambda s: s.purge("")),
        ("sweep", lambda s: s.sweep()),
        ("create", lambda s: s.create("k", {})),
        ("update", lambda s: s.update("k", lambda v: v, default={})),
    ],
)
def test_the_one_table_decides_what_is_retried(
    operation: str, call: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    failures: list[str] = []

    class Down(FlakyStore):
        def _enter(self, name: str) -> None:
            failures.append(name)
            raise StoreUnavailable(f"{name}: down")

        def sweep(self) -> int:
            self._enter("sweep")
            return 0

    store = RetryingStore(Down(), policy=RetryPolicy(jitter=0.0), sleep=Sleeps())
    with pytest.raises(StoreUnavailable):
        call(store)
    assert len(failures) == (3 if operation in IDEMPOTENT_OPERATIONS else 1)
    # The table, not a copy of it in the code: take an operation out and it is not retried.
    monkeypatch.setattr(
        "sessionkit.resilience.retry_policy.IDEMPOTENT_OPERATIONS",
        IDEMPOTENT_OPERATIONS ^ {operation},
    )
    failures.clear()
    with pytest.raises(StoreUnavailable):
        call(store)
    assert len(failures) == (1 if operation in IDEMPOTENT_OPERATIONS else 3)


@pytest.mark.parametrize(
    "error", [ConflictError("k", 3), InvalidKey("bad"), CircuitOpen("b", 1.0), ValueError("app")]
)
def test_other_errors_are_never_retried(error: Exception) -> None:
    _, store, sleeps, _ = make()
    attempts = []

    def failing() -> Any:
        attempts.append(1)
        raise error

    with pytest.raises(type(error)):
        store._call("get", failing)
    assert attempts == [1]
    assert sleeps.waits == []


def test_update_and_create_are_not_retried() -> None:
    # A lost reply would make a retry run fn twice, or report our own create as someone
    # else's: both go to the caller after one attempt.
    backend, store, sleeps, _ = make()
    backend.set("k", {"n": 0})
    backend.lose_replies = True
    with pytest.raises(StoreUnavailable):
        store.update("k", lambda v: {"n": v["n"] + 1})
    with pytest.raises(StoreUnavailable):
        store.create("new", {"n": 1})
    assert backend.calls["update"] == 1
    assert backend.calls["create"] == 1
    assert sleeps.waits == []
    backend.lose_replies = False
    assert store.get("k") == {"n": 1}  # applied once


def test_idempotent_writes_are_retried_after_a_lost_reply() -> None:
    backend, store, _, _ = make()
    backend.lose_replies = True
    with pytest.raises(StoreUnavailable):
        store.merge("k", {"a": 1})
    backend.lose_replies = False
    assert backend.calls["merge"] == 3
    assert store.get("k") == {"a": 1}  # merged three times, same value


def test_get_many_accepts_an_iterator_across_attempts() -> None:
    backend, store, _, _ = make()
    backend.set_many({"a": {"v": 1}, "b": {"v": 2}})
    backend.fail_after = 0

    def recover(seconds: float) -> None:
        backend.down = False

    store._sleep = recover
    assert store.get_many(iter(["a", "b"])) == {"a": {"v": 1}, "b": {"v": 2}}
