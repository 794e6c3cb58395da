"""The journal file under WithFallback: dead letters, bounds, a full disk, checksums."""

from __future__ import annotations

import errno
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sessionkit import FakeClock, JournalFull, JSONCodec, StoreUnavailable
from sessionkit.resilience import AsyncWithFallback, Event
from sessionkit.resilience.journal import JournalIO, dead_letter_path, read_dead_letters
from sessionkit.testing import AsyncFlakyStore
from tests.resilience._async.opened import OPENED
from tests.resilience.recorder import Recorder


def make(
    tmp_path: Path, backend: AsyncFlakyStore | None = None, **options: Any
) -> tuple[AsyncFlakyStore, AsyncWithFallback, Recorder]:
    backend = backend or AsyncFlakyStore(clock=FakeClock())
    recorder = Recorder()
    store = AsyncWithFallback(
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


async def test_a_record_the_primary_refuses_is_set_aside_and_the_rest_lands(
    tmp_path: Path,
) -> None:
    # The primary's payload limit (100 bytes) is below the journal's codec limit: the big
    # value is journaled, then refused at replay for good.
    backend = AsyncFlakyStore(clock=FakeClock(), codec=JSONCodec(max_payload_bytes=100))
    _, store, recorder = make(tmp_path, backend)
    backend.down = True
    await store.set("a", {"n": 1})
    await store.set("big", {"blob": "x" * 500})
    await store.set("c", {"n": 3})
    backend.down = False
    report = await store.replay()
    assert (report.applied, report.rejected, report.completed) == (2, 1, True)
    assert await backend.get_many(["a", "big", "c"]) == {"a": {"n": 1}, "c": {"n": 3}}
    assert await store.get("zzz") is None  # every later call works
    await store.set("d", {"n": 4})
    assert await backend.get("d") == {"n": 4}
    [letter] = read_dead_letters(tmp_path / "journal.jsonl")
    assert letter.record is not None
    assert (letter.record.op, letter.record.key) == ("set", "big")
    assert letter.reason.startswith("PayloadTooLarge")
    [event] = recorder.of(Event.JOURNAL_DEAD_LETTER)
    assert event["dead_letter"] == letter.id
    assert recorder.of(Event.REPLAY_REJECTED)


async def test_dead_letters_can_be_retried_and_dropped(tmp_path: Path) -> None:
    backend = AsyncFlakyStore(clock=FakeClock(), codec=JSONCodec(max_payload_bytes=100))
    _, store, _ = make(tmp_path, backend)
    backend.down = True
    await store.set("big1", {"blob": "x" * 500})
    await store.set("big2", {"blob": "y" * 500})
    backend.down = False
    assert (await store.replay()).rejected == 2
    first, second = store.journal.dead_letters()
    assert store.journal.retry_dead_letters([first.id]) == 1
    assert [letter.id for letter in store.journal.dead_letters()] == [second.id]
    assert store.journal.pending()  # the retried record is back in the journal
    backend.state.codec = JSONCodec()  # the operator fixed the limit
    report = await store.replay()
    assert (report.applied, report.completed) == (1, True)
    assert await backend.get("big1") == {"blob": "x" * 500}
    assert store.journal.drop_dead_letters([second.id]) == 1
    assert store.journal.dead_letters() == []
    assert dead_letter_path(tmp_path / "journal.jsonl").stat().st_mode & 0o777 == 0o600


async def test_a_poison_record_replayed_again_is_set_aside_once(tmp_path: Path) -> None:
    backend = AsyncFlakyStore(clock=FakeClock(), codec=JSONCodec(max_payload_bytes=100))
    _, store, _ = make(tmp_path, backend)
    backend.down = True
    await store.set("big", {"blob": "x" * 500})
    await store.set("a", {"n": 1})
    backend.down = False
    backend.fail_after = 1  # the poison record's attempt, then the primary dies again
    assert (await store.replay()).completed is False
    (tmp_path / "journal.jsonl.cursor").write_bytes(b"")  # progress lost as well
    backend.down = False
    report = await store.replay()
    assert (report.applied, report.rejected, report.completed) == (1, 1, True)
    assert len(read_dead_letters(tmp_path / "journal.jsonl")) == 1


# -- bounds ---------------------------------------------------------------------------------


async def test_a_full_journal_refuses_writes_with_a_typed_error(tmp_path: Path) -> None:
    backend, store, recorder = make(tmp_path, max_records=3)
    backend.down = True
    for n in range(3):
        await store.set(f"k{n}", {"n": n})
    size = (tmp_path / "journal.jsonl").stat().st_size
    with pytest.raises(JournalFull, match="max_records") as caught:
        await store.set("k3", {"n": 3})
    assert caught.value.limit == "max_records"
    assert isinstance(caught.value, StoreUnavailable)
    assert (tmp_path / "journal.jsonl").stat().st_size == size  # nothing written
    assert await store.get("k2") == {"n": 2}  # reads still answer
    with pytest.raises(StoreUnavailable):
        await store.get("k3")  # never journaled, never pretended
    assert store.journal.fill().ratio == 1.0
    assert recorder.of(Event.JOURNAL_FULL)[0]["limit"] == "max_records"
    backend.down = False
    assert (await store.replay()).completed
    assert store.journal.fill().ratio == 0.0
    await store.set("k3", {"n": 3})  # room again
    assert await backend.get("k3") == {"n": 3}


async def test_max_bytes_bounds_the_file(tmp_path: Path) -> None:
    backend, store, _ = make(tmp_path, max_bytes=2048)
    backend.down = True
    await store.set("small", {"v": "x" * 100})
    with pytest.raises(JournalFull) as caught:
        await store.set("large", {"v": "x" * 4000})
    assert caught.value.limit == "max_bytes"
    assert 0 < store.journal.fill().ratio < 1
    assert await store.get("small") == {"v": "x" * 100}


# -- a full disk ----------------------------------------------------------------------------


async def test_a_full_disk_refuses_the_write_and_keeps_nothing(tmp_path: Path) -> None:
    backend, store, recorder = make(tmp_path)
    backend.down = True
    await store.set("a", {"n": 1})
    size = (tmp_path / "journal.jsonl").stat().st_size
    store.journal.io = JournalIO(write=failing(JournalIO().write, errno.ENOSPC))
    with pytest.raises(JournalFull, match="disk") as caught:
        await store.set("b", {"n": 2})
    assert caught.value.limit == "disk"
    assert (tmp_path / "journal.jsonl").stat().st_size == size
    assert recorder.of(Event.JOURNAL_FULL)[-1]["limit"] == "disk"
    store.journal.io = JournalIO()
    backend.down = False
    assert (await store.replay()).applied == 1
    assert await backend.get("b") is None


async def test_a_full_disk_does_not_stop_the_replay_or_keys_the_journal_lacks(
    tmp_path: Path,
) -> None:
    backend, store, _ = make(tmp_path)
    await backend.set("other", {"v": "primary"})
    backend.down = True
    await store.set("a", {"n": 1})
    backend.down = False
    # Every write that would need a new block fails; the cursor is written in place.
    io = JournalIO()
    store.journal.io = JournalIO(write=failing(io.write, errno.ENOSPC), pwrite=io.pwrite)
    assert await store.get("other") == {"v": "primary"}
    assert (await store.replay()).completed  # progress needed no space
    assert await backend.get("a") == {"n": 1}


async def test_a_broken_cursor_leaves_the_primary_serving_other_keys(tmp_path: Path) -> None:
    backend, store, _ = make(tmp_path)
    await backend.set("other", {"v": "primary"})
    backend.down = True
    await store.set("a", {"n": 1})
    backend.down = False
    io = JournalIO()
    store.journal.io = JournalIO(pwrite=failing(io.pwrite, errno.EIO), write=io.write)
    report = await store.replay()
    assert (report.completed, report.busy) == (False, True)
    assert await store.get("other") == {"v": "primary"}  # not in the journal: the primary
    await store.set("new", {"v": 1})  # neither: straight to the primary
    assert await backend.get("new") == {"v": 1}
    assert await store.get("a") == {"n": 1}  # the journal's key: from the journal
    await store.set("a", {"n": 2})  # ... and its writes stay in order, in the journal
    assert await store.get("a") == {"n": 2}
    store.journal.io = io  # the disk is repaired
    assert (await store.replay()).completed
    assert await backend.get("a") == {"n": 2}


# -- checksums ------------------------------------------------------------------------------


async def test_a_flipped_digit_is_never_replayed_and_is_set_aside(tmp_path: Path) -> None:
    backend, store, _ = make(tmp_path)
    backend.down = True
    await store.set("a", {"n": 1})
    await store.set("b", {"n": 12345})
    path = tmp_path / "journal.jsonl"
    path.write_bytes(path.read_bytes().replace(b"12345", b"12346"))
    _, other, recorder = make(tmp_path, backend)
    backend.down = False
    report = await other.replay()
    assert (report.applied, report.completed) == (1, True)
    assert recorder.of(Event.JOURNAL_TORN_RECORD)[0]["reason"] == "checksum mismatch"
    assert len(recorder.of(Event.JOURNAL_DEAD_LETTER)) == 1
    assert [damage.reason for damage in report.damaged] == ["checksum mismatch"]
    assert await backend.get_many(["a", "b"]) == {"a": {"n": 1}}
    [letter] = read_dead_letters(path)
    assert letter.record is not None  # still spelled out: an operator may vouch for it
    assert letter.record.value == {"n": 12346}
    assert letter.raw is not None
    assert b"12346" in letter.raw
    assert letter.reason == "checksum mismatch"


async def test_a_journal_key_refuses_forged_records(tmp_path: Path) -> None:
    key = "k" * 32
    backend, store, _ = make(tmp_path, journal_key=key)
    backend.down = True
    await store.set("a", {"n": 1})
    path = tmp_path / "journal.jsonl"
    line = path.read_bytes().splitlines()[1]
    forged = line.replace(b'"a"', b'"admin:1"').rsplit(b" #", 1)[0]
    with path.open("ab") as file:  # a valid CRC, no valid HMAC
        file.write(forged + b" #%08x " % zlib.crc32(forged) + b"0" * 64 + b"\n")
    _, other, _ = make(tmp_path, backend, journal_key=key)
    with pytest.raises(StoreUnavailable):
        await other.get("admin:1")  # not in the journal for a reader with the key
    backend.down = False
    report = await other.replay()
    assert (report.applied, len(report.damaged), report.completed) == (1, 1, True)
    assert report.damaged[0].reason.startswith("HMAC mismatch")
    assert await backend.get("admin:1") is None
