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
