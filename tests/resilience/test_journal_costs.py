"""What the journal costs per call: nothing on the healthy path, and during an outage
the same whatever the journal's length."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from sessionkit import FakeClock
from sessionkit.resilience import WithFallback
from sessionkit.testing import FlakyStore


def test_the_healthy_path_makes_no_journal_system_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = FlakyStore(clock=FakeClock())
    with WithFallback(backend, tmp_path / "j", fsync=False, replay_interval=None) as store:
        store.get("warm")  # the first look at the file, at start
        journal_fd = store.journal._fd
        looks: list[int] = []
        real_fstat = os.fstat

        def counting_fstat(fd: int) -> os.stat_result:
            if fd == journal_fd:
                looks.append(fd)
            return real_fstat(fd)

        monkeypatch.setattr(os, "fstat", counting_fstat)
        for n in range(200):
            store.set(f"k{n}", {"n": n})
            assert store.get(f"k{n}") == {"n": n}
        assert looks == []


def outage_call_seconds(tmp_path: Path, records: int) -> float:
    backend = FlakyStore(clock=FakeClock())
    journal = tmp_path / f"j{records}"
    with WithFallback(backend, journal, fsync=False, replay_interval=None) as store:
        backend.down = True
        for n in range(records):
            store.set(f"k{n}", {"n": n})
        calls = 200
        start = time.perf_counter()
        for _ in range(calls):
            store.get("k0")
        return (time.perf_counter() - start) / calls


def test_a_call_during_an_outage_does_not_cost_more_with_a_longer_journal(
    tmp_path: Path,
) -> None:
    small = min(outage_call_seconds(tmp_path, 20 + n) for n in range(2))
    large = min(outage_call_seconds(tmp_path, 5000 + n) for n in range(2))
    assert large < small * 4 + 0.0001, (small, large)
