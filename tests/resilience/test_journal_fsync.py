"""A journal append that cannot fsync is not acknowledged: the write raises."""

from __future__ import annotations

from pathlib import Path

import pytest

from sessionkit import FakeClock, StoreUnavailable
from sessionkit.resilience import WithFallback, journal
from sessionkit.testing import FlakyStore


def test_a_failing_fsync_fails_the_journaled_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock()
    backend = FlakyStore(clock=clock)
    store = WithFallback(backend, tmp_path / "journal.jsonl", clock=clock, fsync=True)
    try:
        backend.down = True

        def no_disk(fd: int) -> None:
            raise OSError(5, "fsync failed")

        monkeypatch.setattr(journal.os, "fsync", no_disk)
        with pytest.raises((OSError, StoreUnavailable)):
            store.set("k", {"v": 1})
        # Not acknowledged. (Whether the unsynced record is later replayed, like a write
        # that timed out, is the journal's own decision, not asserted here.)
    finally:
        store.close()


def test_a_failing_cursor_fsync_stops_the_replay(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock()
    backend = FlakyStore(clock=clock)
    store = WithFallback(backend, tmp_path / "journal.jsonl", clock=clock, fsync=True)
    try:
        backend.down = True
        store.set("k", {"v": 1})
        backend.down = False

        def no_disk(fd: int) -> None:
            raise OSError(5, "fsync failed")

        monkeypatch.setattr(journal.os, "fsync", no_disk)
        report = store.replay()  # the cursor line cannot be made durable: stop, apply nothing
        assert not report.completed
        assert report.applied == 0
    finally:
        monkeypatch.undo()
        store.close()
