"""A journal write is acknowledged only once its record is on disk; the cursor likewise.

The faults are injected through `JournalIO` (the system calls the journal writes with):
a failing ``fsync`` must fail the call and leave nothing that could be replayed, and
every acknowledged append and every cursor move must have been fsynced first.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from sessionkit import FakeClock, JournalUnavailable, StoreUnavailable
from sessionkit.entry import TTL
from sessionkit.resilience import WithFallback
from sessionkit.resilience.journal import JournalIO
from sessionkit.stamped import ReplayOutcome, StampedWrite
from sessionkit.testing import FlakyStore

_OPENED: list[WithFallback] = []


@pytest.fixture(autouse=True)
def close_opened() -> Iterator[None]:
    yield
    while _OPENED:
        _OPENED.pop().close()


class LoggedStore(FlakyStore):
    """Notes each set it applies in a shared log (to order it against fsyncs)."""

    def __init__(self, log: list[tuple[str, Any]], **options: Any) -> None:
        super().__init__(**options)
        self.log = log

    def set(self, key: str, value: Mapping[str, Any], ttl: TTL | None = None) -> None:
        super().set(key, value, ttl)
        self.log.append(("applied", key))

    def apply_if_newer(self, write: StampedWrite) -> ReplayOutcome:  # a replay's write
        outcome = super().apply_if_newer(write)
        self.log.append(("applied", write.key))
        return outcome


def make(
    tmp_path: Path, log: list[tuple[str, Any]] | None = None
) -> tuple[FlakyStore, WithFallback]:
    backend = LoggedStore(log if log is not None else [], clock=FakeClock())
    store = WithFallback(
        backend, tmp_path / "journal.jsonl", clock=backend.state.clock, replay_interval=None
    )
    _OPENED.append(store)
    return backend, store


def fsync_that(fails: Callable[[int], bool], log: list[tuple[str, Any]]) -> Callable[[int], None]:
    def fsync(fd: int) -> None:
        log.append(("fsync", fd))
        if fails(fd):
            raise OSError(errno.EIO, "injected fsync failure")
        os.fsync(fd)

    return fsync


def test_an_append_is_fsynced_before_the_call_returns(tmp_path: Path) -> None:
    log: list[tuple[str, Any]] = []
    backend, store = make(tmp_path)
    backend.down = True
    store.journal.io = JournalIO(fsync=fsync_that(lambda fd: False, log))
    journal_fd = store.journal._fd
    for n in range(3):
        store.set(f"k{n}", {"n": n})
        assert log[-1] == ("fsync", journal_fd)  # the last thing before acknowledging
        log.clear()


def test_an_append_whose_fsync_fails_raises_and_is_never_replayed(tmp_path: Path) -> None:
    log: list[tuple[str, Any]] = []
    backend, store = make(tmp_path)
    backend.down = True
    store.set("kept", {"n": 1})
    size = (tmp_path / "journal.jsonl").stat().st_size
    journal_fd = store.journal._fd
    store.journal.io = JournalIO(fsync=fsync_that(lambda fd: fd == journal_fd, log))
    with pytest.raises(JournalUnavailable, match="fsync"):
        store.set("lost", {"n": 2})
    assert (tmp_path / "journal.jsonl").stat().st_size == size  # cut back
    with pytest.raises(StoreUnavailable):
        store.get("lost")  # not acknowledged, not answered
    store.journal.io = JournalIO()
    backend.down = False
    report = store.replay()
    assert (report.applied, report.completed) == (1, True)
    assert backend.get("lost") is None
    assert backend.get("kept") == {"n": 1}


def test_each_cursor_move_is_fsynced_before_the_next_record_is_applied(tmp_path: Path) -> None:
    log: list[tuple[str, Any]] = []
    backend, store = make(tmp_path, log)
    backend.down = True
    for n in range(4):
        store.set(f"k{n}", {"n": n})
    backend.down = False
    store.journal.io = JournalIO(fsync=fsync_that(lambda fd: False, log))
    assert store.replay().completed
    cursor_fd = store.journal._cursor_fd
    steps = [
        "applied" if event == "applied" else "cursor"
        for event, fd in log
        if event == "applied" or fd == cursor_fd
    ]
    # The cursor starts, then every applied record is followed by its fsynced cursor move.
    assert steps == ["cursor"] + ["applied", "cursor"] * 4


def test_a_cursor_whose_fsync_fails_stops_the_replay_and_the_record_is_applied_again(
    tmp_path: Path,
) -> None:
    log: list[tuple[str, Any]] = []
    backend, store = make(tmp_path, log)
    backend.down = True
    store.set("a", {"n": 1})
    store.set("b", {"n": 2})
    backend.down = False
    cursor_fd = store.journal._cursor_fd
    moves = iter(range(100))
    # The cursor's start succeeds, its first move (after "a") fails.
    store.journal.io = JournalIO(
        fsync=fsync_that(lambda fd: fd == cursor_fd and next(moves) == 1, log)
    )
    report = store.replay()
    assert (report.applied, report.completed) == (0, False)
    assert backend.get("b") is None  # not applied after a cursor move that failed
    store.journal.io = JournalIO()
    log.clear()
    report = store.replay()
    # "a" is written again, harmlessly: the primary holds that very write (its stamp),
    # so it counts as superseded.
    assert (report.applied, report.superseded, report.completed) == (1, 1, True)
    assert [entry for entry in log if entry[0] == "applied"] == [("applied", "a"), ("applied", "b")]
