"""WithFallback replay: ordered by write stamps, max_replay_age, background and bounded replay.

The primary is a real memory store (shared `MemoryState`); only its reachability is
switched, per instance, by the flaky wrapper (`AsyncFlakyStore`).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from time import monotonic
from typing import Any

from prometheus_client import CollectorRegistry

from sessionkit import FakeClock
from sessionkit.metrics import SessionMetrics
from sessionkit.resilience import AsyncWithFallback, Event
from sessionkit.testing import AsyncFlakyStore
from tests.resilience._async.opened import OPENED
from tests.resilience.recorder import Recorder


def instance(
    path: Path, backend: AsyncFlakyStore, **options: Any
) -> tuple[AsyncWithFallback, Recorder]:
    """One app instance: its own journal, its own connection to the shared primary."""
    recorder = Recorder()
    options.setdefault("replay_interval", None)
    store = AsyncWithFallback(
        backend, path, clock=backend.state.clock, fsync=False, observers=[recorder], **options
    )
    OPENED.append(store)
    return store, recorder


async def test_a_late_replay_never_undoes_another_instances_newer_writes(tmp_path: Path) -> None:
    # Tried: instance A loses the primary and journals three writes; instance B, healthy,
    # then writes, creates and deletes the same keys; A's replay must leave B's state.
    clock = FakeClock()
    primary = AsyncFlakyStore(clock=clock)
    to_a = AsyncFlakyStore(state=primary.state)  # A's connection: the one that fails
    to_b = AsyncFlakyStore(state=primary.state)
    a, a_events = instance(tmp_path / "a.journal", to_a)
    b, _ = instance(tmp_path / "b.journal", to_b)
    await b.set("wizard:42", {"step": "price"})
    await b.set("admin:9", {"role": "user"})
    clock.advance(1)

    to_a.down = True
    await a.set("wizard:42", {"step": "pay"})
    await a.delete("cart:7")  # absent on the primary: journaled all the same
    await a.set("admin:9", {"role": "admin"})
    clock.advance(1)

    await b.set("wizard:42", {"step": "confirm"})
    assert await b.create("cart:7", {"items": []}) is True
    assert await b.delete("admin:9") is True
    clock.advance(1)

    to_a.down = False
    report = await a.replay()
    assert report.completed
    assert (report.applied, report.superseded, report.conflicts) == (0, 3, 0)
    assert await primary.get("wizard:42") == {"step": "confirm"}
    assert await primary.get("cart:7") == {"items": []}
    assert await primary.get("admin:9") is None
    superseded = a_events.of(Event.REPLAY_SUPERSEDED)
    assert [event["operation"] for event in superseded] == ["set", "delete", "set"]
    assert a_events.of(Event.FALLBACK_RECOVERED)[0]["superseded"] == 3


async def test_a_replay_still_lands_what_nobody_wrote_later(tmp_path: Path) -> None:
    clock = FakeClock()
    primary = AsyncFlakyStore(clock=clock)
    a, _ = instance(tmp_path / "a.journal", primary)
    await a.set("kept", {"v": 0})
    await a.set("gone", {"v": 0})
    clock.advance(1)
    primary.down = True
    await a.set("kept", {"v": 1})
    await a.delete("gone")
    await a.set_many({"m1": {"i": 1}, "m2": {"i": 2}})
    primary.down = False
    report = await a.replay()
    assert (report.applied, report.superseded) == (3, 0)
    assert await primary.get_many(["kept", "gone", "m1", "m2"]) == {
        "kept": {"v": 1},
        "m1": {"i": 1},
        "m2": {"i": 2},
    }


async def test_a_record_older_than_max_replay_age_is_set_aside_and_the_replay_goes_on(
    tmp_path: Path,
) -> None:
    clock = FakeClock()
    primary = AsyncFlakyStore(clock=clock)
    store, recorder = instance(tmp_path / "j", primary, max_replay_age=60)
    primary.down = True
    await store.set("old", {"v": 1})
    clock.advance(120)
    await store.set("new", {"v": 2})
    primary.down = False
    report = await store.replay()
    assert report.completed
    # (The old record was set aside by the step the second write tried first: no primary
    # call is needed to judge its age.)
    assert report.applied == 1
    assert await primary.get("old") is None
    assert await primary.get("new") == {"v": 2}
    [letter] = store.journal.dead_letters()
    assert letter.reason.startswith("older than max_replay_age (60 s)")
    assert letter.record is not None
    assert letter.record.key == "old"
    assert recorder.of(Event.REPLAY_REJECTED)[0]["error"] == "max_replay_age"
    # The operator's retry (what `sessionkit replay JOURNAL retry` does) lands it.
    await store.close()
    reopened = AsyncFlakyStore(state=primary.state)  # (close closed the first connection)
    again, _ = instance(tmp_path / "j", reopened, max_replay_age=None)
    assert again.journal.retry_dead_letters() == 1
    assert (await again.replay()).applied == 1
    assert await reopened.get("old") == {"v": 1}


async def test_the_background_replayer_replays_without_a_call_and_stops_on_close(
    tmp_path: Path,
) -> None:
    # Tried: records journaled, the primary back, then no call at all on the store.
    clock = FakeClock()
    primary = AsyncFlakyStore(clock=clock)
    store, _ = instance(tmp_path / "j", primary, replay_interval=0.02)
    primary.down = True
    for n in range(3):
        await store.set(f"k{n}", {"n": n})
    primary.down = False
    deadline = monotonic() + 20
    while await primary.get("k2") is None:
        assert monotonic() < deadline, "the background replay never ran"
        await asyncio.sleep(0.01)
    assert await primary.get_many(["k0", "k1", "k2"]) == {f"k{n}": {"n": n} for n in range(3)}
    await store.close()
    assert not store._background.running


async def test_a_call_after_recovery_replays_one_bounded_step_and_reads_its_writes(
    tmp_path: Path,
) -> None:
    # Tried: 3,000 journaled records, then one call once the primary is back.
    clock = FakeClock()
    primary = AsyncFlakyStore(clock=clock)
    store, _ = instance(tmp_path / "j", primary)
    primary.down = True
    for n in range(3000):
        await store.set(f"k{n}", {"n": n})
    primary.down = False
    assert await store.get("k2999") == {"n": 2999}  # read-your-writes, not replayed yet
    assert primary.calls["apply_if_newer"] <= 64  # one bounded step, not the journal
    assert store.journal.pending()
    assert await primary.get("k2999") is None
    await store.set("k2999", {"n": "later"})  # the journal holds the key: journaled too
    assert await store.get("k2999") == {"n": "later"}
    report = await store.replay()
    assert report.completed
    assert await primary.get("k2999") == {"n": "later"}
    assert await primary.get("k0") == {"n": 0}


async def test_superseded_and_applied_records_are_counted_by_the_metrics(
    tmp_path: Path,
) -> None:
    # Tried: 100 journaled records, one of them older than a later direct write; the
    # first call after recovery replays a bounded step, replay() the rest.
    registry = CollectorRegistry()
    clock = FakeClock()
    primary = AsyncFlakyStore(clock=clock)
    other = AsyncFlakyStore(state=primary.state)  # another instance's connection
    store = AsyncWithFallback(
        primary,
        tmp_path / "j",
        clock=clock,
        fsync=False,
        observers=[SessionMetrics(registry)],
        replay_interval=None,
    )
    OPENED.append(store)
    primary.down = True
    for n in range(100):
        await store.set(f"k{n}", {"n": n})
    clock.advance(1)
    await other.set("k99", {"n": "newer"})
    primary.down = False
    await store.exists("unrelated")  # one bounded step
    assert (await store.replay()).completed

    def sample(outcome: str) -> float | None:
        return registry.get_sample_value("sessionkit_replayed_records_total", {"outcome": outcome})

    assert sample("applied") == 99
    assert sample("superseded") == 1
    assert await primary.get("k99") == {"n": "newer"}
