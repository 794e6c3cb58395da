# Generated from tests/resilience/_async/test_journal_file.py by scripts/unasync.py: edit that file, not this one.
"""The journal file under WithFallback: dead letters, bounds, a full disk, checksums."""

from __future__ import annotations

import errno
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sessionkit import FakeClock, JournalFull, JSONCodec, StoreUnavailable
from sessionkit.resilience import WithFallback, Event
from sessionkit.resilience.journal import JournalIO, dead_letter_path, read_dead_letters
from sessionkit.testing import FlakyStore
from tests.resilience._sync.opened import OPENED
from tests.resilience.recorder import Recorder


def make(
    tmp_path: Path, backend: FlakyStore | None = None, **options: Any
) -> tuple[FlakyStore, WithFallback, Recorder]:
    backend = backend or FlakyStore(clock=FakeClock())
    recorder = Recorder()
    store = WithFallback(
        backend,
        tmp_path / "journal.jsonl",
        clock=backend.state.clock,
        fsync=False,
        observers=[recorder],
        **options,
    )
    OPENED.append(store)
    return backend, store, recorder


def failing(call: Callable[..., Any], error: int) -> Callable[..., Any]:
    """``call`` that raises OSError(error) while ``failing.on`` is set."""

    def fail(*args: Any) -> Any:
        if fail.on:  # type: ignore[attr-defined]
            raise OSError(error, "injected")
        return call(*args)

    fail.on = True  # type: ignore[attr-defined]
    return fail


# -- poison records -------------------------------------------------------------------------


def test_a_record_the_primary_refuses_is_set_aside_and_the_rest_lands(
    tmp_path: Path,
) -> None:
    # The primary's payload limit (100 bytes) is below the journal's codec limit: the big
    # value is journaled, then refused at replay for good.
    backend = FlakyStore(clock=FakeClock(), codec=JSONCodec(max_payload_bytes=100))
    _, store, recorder = make(tmp_path, backend)
    backend.down = True
    store.set("a", {"n": 1})
    store.set("big", {"blob": "x" * 500})
    store.set("c", {"n": 3})
    backend.down = False
    report = store.replay()
    assert (report.applied, report.rejected, report.completed) == (2, 1, True)
    assert backend.get_many(["a", "big", "c"]) == {"a": {"n": 1}, "c": {"n": 3}}
    assert store.get("zzz") is None  # every later call works
    store.set("d", {"n": 4})
    assert backend.get("d") == {"n": 4}
    [letter] = read_dead_letters(tmp_path / "journal.jsonl")
    assert letter.record is not None
    assert (letter.record.op, letter.record.key) == ("set", "big")
    assert letter.reason.startswith("PayloadTooLarge")
    [event] = recorder.of(Event.JOURNAL_DEAD_LETTER)
    assert event["dead_letter"] == letter.id
    assert recorder.of(Event.REPLAY_REJECTED)


def test_dead_letters_can_be_retried_and_dropped(tmp_path: Path) -> None:
    backend = FlakyStore(clock=FakeClock(), codec=JSONCodec(max_payload_bytes=100))
    _, store, _ = make(tmp_path, backend)
    backend.down = True
    store.set("big1", {"blob": "x" * 500})
    store.set("big2", {"blob": "y" * 500})
    backend.down = False
    assert (store.replay()).rejected == 2
    first, second = store.journal.dead_letters()
    assert store.journal.retry_dead_letters([first.id]) == 1
    assert [letter.id for letter in store.journal.dead_letters()] == [second.id]
    assert store.journal.pending()  # the retried record is back in the journal
    backend.state.codec = JSONCodec()  # the operator fixed the limit
    report = store.replay()
    assert (report.applied, report.completed) == (1, True)
    assert backend.get("big1") == {"blob": "x" * 500}
    assert store.journal.drop_dead_letters([second.id]) == 1
    assert store.journal.dead_letters() == []
    assert dead_letter_path(tmp_path / "journal.jsonl").stat().st_mode & 0o777 == 0o600


def test_a_poison_record_replayed_again_is_set_aside_once(tmp_path: Path) -> None:
    backend = FlakyStore(clock=FakeClock(), codec=JSONCodec(max_payload_bytes=100))
    _, store, _ = make(tmp_path, backend)
    backend.down = True
    store.set("big", {"blob": "x" * 500})
    store.set("a", {"n": 1})
    backend.down = False
    backend.fail_after = 1  # the poison record's attempt, then the primary dies again
    assert (store.replay()).completed is False
    (tmp_path / "journal.jsonl.cursor").write_bytes(b"")  # progress lost as well
    backend.down = False
    report = store.replay()
    assert (report.applied, report.rejected, report.completed) == (1, 1, True)
    assert len(read_dead_letters(tmp_path / "journal.jsonl")) == 1


# -- bounds ---------------------------------------------------------------------------------


def test_a_full_journal_refuses_writes_with_a_typed_error(tmp_path: Path) -> None:
    backend, store, recorder = make(tmp_path, max_records=3)
    backend.down = True
    for n in range(3):
        store.set(f"k{n}", {"n": n})
    size = (tmp_path / "journal.jsonl").stat().st_size
    with pytest.raises(JournalFull, match="max_records") as caught:
        store.set("k3", {"n": 3})
    assert caught.value.limit == "max_records"
    assert isinstance(caught.value, StoreUnavailable)
    assert (tmp_path / "journal.jsonl").stat().st_size == size  # nothing written
    assert store.get("k2") == {"n": 2}  # reads still answer
    with pytest.raises(StoreUnavailable):
        store.get("k3")  # never journaled, never pretended
    assert store.journal.fill().ratio == 1.0
    assert recorder.of(Event.JOURNAL_FULL)[0]["limit"] == "max_records"
    backend.down = False
    assert (store.replay()).completed
    assert store.journal.fill().ratio == 0.0
    store.set("k3", {"n": 3})  # room again
    assert backend.get("k3") == {"n": 3}


def test_max_bytes_bounds_the_file(tmp_path: Path) -> None:
    backend, store, _ = make(tmp_path, max_bytes=2048)
    backend.down = True
    store.set("small", {"v": "x" * 100})
    with pytest.raises(JournalFull) as caught:
        store.set("large", {"v": "x" * 4000})
    assert caught.value.limit == "max_bytes"
    assert 0 < store.journal.fill().ratio < 1
    assert store.get("small") == {"v": "x" * 100}


# -- a full disk ----------------------------------------------------------------------------


def test_a_full_disk_refuses_the_write_and_keeps_nothing(tmp_path: Path) -> None:
    backend, store, recorder = make(tmp_path)
    backend.down = True
    store.set("a", {"n": 1})
    size = (tmp_path / "journal.jsonl").stat().st_size
    store.journal.io = JournalIO(write=failing(JournalIO().write, errno.ENOSPC))
    with pytest.raises(JournalFull, match="disk") as caught:
        store.set("b", {"n": 2})
    assert caught.value.limit == "disk"
    assert (tmp_path / "journal.jsonl").stat().st_size == size
    assert recorder.of(Event.JOURNAL_FULL)[-1]["limit"] == "disk"
    store.journal.io = JournalIO()
    backend.down = False
    assert (store.replay()).applied == 1
    assert backend.get("b") is None


def test_a_full_disk_does_not_stop_the_replay_or_keys_the_journal_lacks(
    tmp_path: Path,
) -> None:
    backend, store, _ = make(tmp_path)
    backend.set("other", {"v": "primary"})
    backend.down = True
    store.set("a", {"n": 1})
    backend.down = False
    # Every write that would need a new block fails; the cursor is written in place.
    io = JournalIO()
    store.journal.io = JournalIO(write=failing(io.write, errno.ENOSPC), pwrite=io.pwrite)
    assert store.get("other") == {"v": "primary"}
    assert (store.replay()).completed  # progress needed no space
    assert backend.get("a") == {"n": 1}


def test_a_broken_cursor_leaves_the_primary_serving_other_keys(tmp_path: Path) -> None:
    backend, store, _ = make(tmp_path)
    backend.set("other", {"v": "primary"})
    backend.down = True
    store.set("a", {"n": 1})
    backend.down = False
    io = JournalIO()
    store.journal.io = JournalIO(pwrite=failing(io.pwrite, errno.EIO), write=io.write)
    report = store.replay()
    assert (report.completed, report.busy) == (False, True)
    assert store.get("other") == {"v": "primary"}  # not in the journal: the primary
    store.set("new", {"v": 1})  # neither: straight to the primary
    assert backend.get("new") == {"v": 1}
    assert store.get("a") == {"n": 1}  # the journal's key: from the journal
    store.set("a", {"n": 2})  # ... and its writes stay in order, in the journal
    assert store.get("a") == {"n": 2}
    store.journal.io = io  # the disk is repaired
    assert (store.replay()).completed
    assert backend.get("a") == {"n": 2}


# -- checksums ------------------------------------------------------------------------------


def test_a_flipped_digit_is_never_replayed_and_is_set_aside(tmp_path: Path) -> None:
    backend, store, _ = make(tmp_path)
    backend.down = True
    store.set("a", {"n": 1})
    store.set("b", {"n": 12345})
    path = tmp_path / "journal.jsonl"
    path.write_bytes(path.read_bytes().replace(b"12345", b"12346"))
    _, other, recorder = make(tmp_path, backend)
    backend.down = False
    report = other.replay()
    assert (report.applied, report.completed) == (1, True)
    assert recorder.of(Event.JOURNAL_TORN_RECORD)[0]["reason"] == "checksum mismatch"
    assert len(recorder.of(Event.JOURNAL_DEAD_LETTER)) == 1
    assert [damage.reason for damage in report.damaged] == ["checksum mismatch"]
    assert backend.get_many(["a", "b"]) == {"a": {"n": 1}}
    [letter] = read_dead_letters(path)
    assert letter.record is not None  # still spelled out: an operator may vouch for it
    assert letter.record.value == {"n": 12346}
    assert letter.raw is not None
    assert b"12346" in letter.raw
    assert letter.reason == "checksum mismatch"


def test_a_journal_key_refuses_forged_records(tmp_path: Path) -> None:
    key = "k" * 32
    backend, store, _ = make(tmp_path, journal_key=key)
    backend.down = True
    store.set("a", {"n": 1})
    path = tmp_path / "journal.jsonl"
    line = path.read_bytes().splitlines()[1]
    forged = line.replace(b'"a"', b'"admin:1"').rsplit(b" #", 1)[0]
    with path.open("ab") as file:  # a valid CRC, no valid HMAC
        file.write(forged + b" #%08x " % zlib.crc32(forged) + b"0" * 64 + b"\n")
    _, other, _ = make(tmp_path, backend, journal_key=key)
    with pytest.raises(StoreUnavailable):
        other.get("admin:1")  # not in the journal for a reader with the key
    backend.down = False
    report = other.replay()
    assert (report.applied, len(report.damaged), report.completed) == (1, 1, True)
    assert report.damaged[0].reason.startswith("HMAC mismatch")
    assert backend.get("admin:1") is None
