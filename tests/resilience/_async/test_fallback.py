"""WithFallback: journaling during an outage, read-your-writes, replay, conflicts, damage."""

from __future__ import annotations

import json
import zlib
from pathlib import Path
from typing import Any

import pytest

from sessionkit import (
    ConfigurationError,
    FakeClock,
    InvalidKey,
    InvalidTTL,
    SerializationError,
    SessionNotFound,
    StoreUnavailable,
)
from sessionkit.resilience import (
    AsyncRetryingStore,
    AsyncWithFallback,
    Event,
    RetryPolicy,
    resilient,
)
from sessionkit.resilience.journal_cursor import LOST_START, lost_note
from sessionkit.testing import AsyncFlakyStore
from tests.resilience._async.opened import OPENED
from tests.resilience.recorder import Recorder


def make(
    tmp_path: Path, backend: AsyncFlakyStore | None = None
) -> tuple[AsyncFlakyStore, AsyncWithFallback, Recorder]:
    clock = backend.state.clock if backend is not None else FakeClock()
    backend = backend or AsyncFlakyStore(clock=clock)
    recorder = Recorder()
    store = AsyncWithFallback(
        backend,
        tmp_path / "journal.jsonl",
        clock=clock,
        fsync=False,
        observers=[recorder],
        replay_interval=None,
    )
    OPENED.append(store)
    return backend, store, recorder


def journal_lines(tmp_path: Path) -> list[dict[str, Any]]:
    text = (tmp_path / "journal.jsonl").read_text()
    # Each line is ``<json> #<crc32>``: the JSON is everything before the trailer.
    return [json.loads(line.rsplit(" #", 1)[0]) for line in text.splitlines()]


async def test_the_healthy_path_writes_no_journal(tmp_path: Path) -> None:
    backend, store, recorder = make(tmp_path)
    await store.set("k", {"v": 1})
    assert await store.merge("k", {"w": 2}) == {"v": 1, "w": 2}
    assert (tmp_path / "journal.jsonl").read_bytes() == b""
    assert recorder.events == []
    assert await backend.get("k") == {"v": 1, "w": 2}


async def test_outage_writes_are_journaled_read_back_and_replayed(tmp_path: Path) -> None:
    backend, store, recorder = make(tmp_path)
    await store.set("kept", {"v": 0})
    await store.set("gone", {"v": 0})
    backend.down = True
    await store.set("a", {"n": 1})
    assert await store.merge("a", {"m": 2}) == {"n": 1, "m": 2}
    assert await store.update("a", lambda v: {**v, "n": v["n"] + 1}) == {"n": 2, "m": 2}
    assert await store.delete("gone") is True
    assert await store.create("fresh", {"c": 1}) is True
    assert await store.create("fresh", {"c": 2}) is False
    await store.set_many({"b": {"i": 1}, "c": {"i": 2}})
    # Read-your-writes from the journal.
    assert await store.get("a") == {"n": 2, "m": 2}
    assert await store.get("gone") is None
    assert await store.exists("gone") is False
    assert await store.get_many(["a", "gone", "b", "c", "fresh"]) == {
        "a": {"n": 2, "m": 2},
        "b": {"i": 1},
        "c": {"i": 2},
        "fresh": {"c": 1},
    }
    assert [line["op"] for line in journal_lines(tmp_path)[1:]] == [
        "set",
        "merge",
        "set",  # the update, journaled as its result
        "delete",
        "create",
        "set_many",
    ]
    # A key the journal does not know needs the primary.
    with pytest.raises(StoreUnavailable):
        await store.get("kept")
    assert Event.FALLBACK_ENGAGED in recorder.names()

    backend.down = False
    report = await store.replay()
    assert report.completed
    assert report.applied == 6
    assert (tmp_path / "journal.jsonl").read_bytes() == b""
    assert await backend.get_many(["a", "gone", "b", "c", "fresh", "kept"]) == {
        "a": {"n": 2, "m": 2},
        "b": {"i": 1},
        "c": {"i": 2},
        "fresh": {"c": 1},
        "kept": {"v": 0},
    }
    assert recorder.of(Event.FALLBACK_RECOVERED)[0]["applied"] == 6


async def test_the_next_call_replays_by_itself_when_the_primary_is_back(tmp_path: Path) -> None:
    backend, store, _ = make(tmp_path)
    backend.down = True
    await store.set("a", {"n": 1})
    backend.down = False
    assert await store.get("a") == {"n": 1}
    assert await backend.get("a") == {"n": 1}
    assert (tmp_path / "journal.jsonl").read_bytes() == b""


async def test_a_merge_of_an_unseen_key_is_partial_until_replayed(tmp_path: Path) -> None:
    backend, store, _ = make(tmp_path)
    await store.set("k", {"old": 1, "m": 0})
    backend.state.clock.advance(1)  # later than the primary's write (a tie would lose)
    backend.down = True
    assert await store.merge("k", {"m": 1}) == {"m": 1}  # only what is known locally
    assert await store.exists("k") is True
    with pytest.raises(StoreUnavailable, match="whole value"):
        await store.get("k")
    with pytest.raises(StoreUnavailable):
        await store.update("k", lambda v: v)  # fn needs the whole value
    backend.down = False
    assert await store.get("k") == {"old": 1, "m": 1}


async def test_update_of_an_unseen_key_during_an_outage_writes_nothing(tmp_path: Path) -> None:
    backend, store, _ = make(tmp_path)
    backend.down = True
    with pytest.raises(StoreUnavailable):
        await store.update("k", lambda v: v, default={})
    assert (tmp_path / "journal.jsonl").read_bytes() == b""
    await store.delete("d")
    with pytest.raises(SessionNotFound):  # known absent: the usual rule
        await store.update("d", lambda v: v)
    assert await store.update("d", lambda v: {**v, "n": 1}, default={"z": 0}) == {"z": 0, "n": 1}


async def test_bad_input_during_an_outage_raises_and_journals_nothing(tmp_path: Path) -> None:
    backend, store, _ = make(tmp_path)
    backend.down = True
    with pytest.raises(InvalidKey):
        await store.set("bad key", {})
    with pytest.raises(SerializationError):
        await store.merge("k", {"x": {1, 2}})
    with pytest.raises(InvalidTTL):
        await store.touch("k", 0)
    with pytest.raises(SerializationError):
        await store.set_many({"a": {}, "b": {"x": float("nan")}})
    await store.set("k", {"n": 1})

    def explode(value: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("the app's own error")

    with pytest.raises(RuntimeError):
        await store.update("k", explode)
    assert [line.get("op") for line in journal_lines(tmp_path)[1:]] == ["set"]


async def test_expiry_during_the_outage_is_honoured_and_replayed(tmp_path: Path) -> None:
    backend, store, _ = make(tmp_path)
    clock = backend.state.clock
    assert isinstance(clock, FakeClock)
    backend.down = True
    await store.set("short", {"v": 1}, ttl=10)
    await store.set("long", {"v": 2}, ttl=100)
    assert await store.ttl("short") == 10
    clock.advance(11)
    assert await store.get("short") is None
    assert await store.touch("short", 10) is False
    assert await store.ttl("long") == 89
    backend.down = False
    assert (await store.replay()).completed
    assert await backend.get("short") is None
    assert await backend.ttl("long") == 89


async def test_an_interrupted_replay_resumes_without_applying_anything_twice(
    tmp_path: Path,
) -> None:
    backend, store, _ = make(tmp_path)
    backend.down = True
    for i in range(10):
        await store.merge(f"k{i % 3}", {f"f{i}": i})
    backend.down = False
    backend.fail_after = 4  # dies after four records
    report = await store.replay()
    assert (report.applied, report.completed) == (4, False)
    await store.close()
    # A new process on the same journal, the primary back.
    backend = AsyncFlakyStore(state=backend.state)
    _, again, _ = make(tmp_path, backend)
    report = await again.replay()
    assert (report.applied, report.completed) == (6, True)
    for k in range(3):
        entry = await backend.get_entry(f"k{k}")
        assert entry is not None
        assert entry.value == {f"f{i}": i for i in range(10) if i % 3 == k}
        assert entry.version == len(entry.value)  # one write per record: none twice
    await again.close()


async def test_a_create_that_collides_at_replay_loses_and_an_older_merge_is_superseded(
    tmp_path: Path,
) -> None:
    backend, store, recorder = make(tmp_path)
    clock = backend.state.clock
    assert isinstance(clock, FakeClock)
    backend.down = True
    assert await store.create("k", {"mine": 1}) is True
    await store.merge("k", {"more": 1})
    await store.set("other", {"v": 1})
    backend.down = False
    clock.advance(1)
    await backend.set("k", {"theirs": 1})  # written meanwhile by someone else
    report = await store.replay()
    assert (report.applied, report.conflicts, report.superseded) == (1, 1, 1)
    assert report.completed
    assert await backend.get("k") == {"theirs": 1}
    assert await backend.get("other") == {"v": 1}
    assert len(recorder.of(Event.REPLAY_CONFLICT)) == 1


async def test_a_create_whose_reply_was_lost_is_not_a_conflict(tmp_path: Path) -> None:
    backend, store, _ = make(tmp_path)
    backend.lose_replies = True
    assert await store.create("k", {"v": 1}) is True  # applied, reply lost: journaled
    backend.lose_replies = False
    report = await store.replay()
    assert (report.applied, report.conflicts) == (1, 0)
    assert await backend.get("k") == {"v": 1}


async def test_two_stores_sharing_a_journal_see_each_others_writes(tmp_path: Path) -> None:
    backend, first, _ = make(tmp_path)
    _, second, _ = make(tmp_path, backend)
    backend.down = True
    await first.set("a", {"by": "first"})
    await second.merge("a", {"also": "second"})
    assert await first.get("a") == {"by": "first", "also": "second"}
    backend.down = False
    assert (await second.replay()).completed
    assert await first.get("a") == {"by": "first", "also": "second"}
    await first.set("a", {"after": True})  # the truncation is noticed: straight to primary
    assert await backend.get("a") == {"after": True}
    await second.close()


async def test_a_torn_line_is_skipped_reported_and_the_rest_replayed(tmp_path: Path) -> None:
    backend, store, recorder = make(tmp_path)
    backend.down = True
    await store.set("a", {"n": 1})
    with (tmp_path / "journal.jsonl").open("ab") as file:
        file.write(b'{"id":"x","at":1,"op":"set","key":"b","val')  # a crash mid-append
    await store.set("c", {"n": 3})  # starts on a fresh line
    backend.down = False
    report = await store.replay()
    assert report.completed
    assert report.applied == 2
    assert len(report.damaged) == 1
    assert recorder.of(Event.JOURNAL_TORN_RECORD)[0]["length"] == 42
    assert await backend.get_many(["a", "b", "c"]) == {"a": {"n": 1}, "c": {"n": 3}}


async def test_scan_count_and_purge_need_the_primary(tmp_path: Path) -> None:
    backend, store, _ = make(tmp_path)
    backend.down = True
    await store.set("a", {})
    with pytest.raises(StoreUnavailable):
        await store.count()
    with pytest.raises(StoreUnavailable):
        await store.purge("a")
    with pytest.raises(StoreUnavailable):
        [key async for key in store.scan()]
    backend.down = False
    assert await store.count() == 1


async def test_session_ids_are_never_logged_in_clear(tmp_path: Path) -> None:
    backend, store, recorder = make(tmp_path)
    backend.down = True
    await store.set("secret-session-id", {"v": 1})
    backend.down = False
    await store.replay()
    assert recorder.events
    assert "secret-session-id" not in repr(recorder.events)


async def test_a_merge_that_keeps_an_expiry_cannot_revive_an_expired_entry(
    tmp_path: Path,
) -> None:
    backend, store, _ = make(tmp_path)
    clock = backend.state.clock
    assert isinstance(clock, FakeClock)
    backend.down = True
    await store.set("k", {"v": 1}, ttl=10)
    await store.merge("k", {"m": 1})  # keeps the 10 s expiry
    assert await store.ttl("k") == 10
    clock.advance(20)
    backend.down = False
    assert (await store.replay()).completed
    assert await backend.get("k") is None


@pytest.mark.parametrize("restart", [False, True], ids=["resumed", "restarted"])
async def test_a_lost_create_drops_only_itself_also_when_its_replay_is_interrupted(
    tmp_path: Path, restart: bool
) -> None:
    # An interrupted and resumed replay ends where an uninterrupted one would: the create
    # loses once, and the key's later set (the last acknowledged write of k) lands.
    backend, store, recorder = make(tmp_path)
    await backend.set("k", {"other": 1})  # another writer's entry, unknown to the journal
    backend.down = True
    assert await store.create("k", {"mine": 1}) is True  # optimistic
    await store.set("y", {"filler": 1})
    await store.set("k", {"mine": 2})
    backend.down = False
    backend.fail_after = 1  # the create (one conditional write), then the primary dies
    first = await store.replay()
    assert (first.applied, first.conflicts, first.completed) == (0, 1, False)
    backend.down = False
    assert await backend.get("k") == {"other": 1}  # the create lost; the set is not in yet
    if restart:  # a new process on the same journal
        await store.close()
        backend = AsyncFlakyStore(state=backend.state)
        _, store, recorder = make(tmp_path, backend)
    second = await store.replay()
    assert (second.applied, second.conflicts, second.completed) == (2, 0, True)
    assert await backend.get("k") == {"mine": 2}
    assert await backend.get("y") == {"filler": 1}
    assert len(recorder.of(Event.REPLAY_CONFLICT)) == (0 if restart else 1)


async def test_a_merge_after_a_lost_create_merges_into_the_entry_that_won(
    tmp_path: Path,
) -> None:
    backend, store, recorder = make(tmp_path)
    await backend.set("k", {"owner": "other", "step": 1})  # another writer, before
    backend.down = True
    assert await store.create("k", {"owner": "me", "step": 1}) is True  # optimistic
    await store.merge("k", {"step": 2})
    backend.down = False
    report = await store.replay()
    assert (report.applied, report.conflicts, report.completed) == (1, 1, True)
    assert await backend.get("k") == {"owner": "other", "step": 2}
    assert len(recorder.of(Event.REPLAY_CONFLICT)) == 1


async def test_a_cursor_with_an_older_versions_lost_notes_still_resumes(tmp_path: Path) -> None:
    # sessionkit before the ordered replay wrote `lost "k"` notes to the cursor (and then
    # dropped k's later records); such a cursor is read, its position kept, its note ignored.
    backend, store, _ = make(tmp_path)
    await backend.set("k", {"other": 1})
    backend.down = True
    await store.create("k", {"mine": 1})
    await store.set("k", {"mine": 2})
    backend.down = False
    backend.fail_after = 1
    assert (await store.replay()).conflicts == 1  # the create lost; then the primary died
    await store.close()
    with (tmp_path / "journal.jsonl.cursor").open("r+b") as file:
        file.seek(LOST_START)
        file.write(lost_note("k"))  # the note the older version wrote with that decision
    backend = AsyncFlakyStore(state=backend.state)
    _, store, _ = make(tmp_path, backend)
    report = await store.replay()
    assert (report.applied, report.conflicts, report.completed) == (1, 0, True)
    assert await backend.get("k") == {"mine": 2}


async def test_a_record_that_lost_only_its_newline_stays_torn(tmp_path: Path) -> None:
    backend, store, recorder = make(tmp_path)
    backend.down = True
    await store.set("a", {"n": 1})
    body = b'{"id":"x1","at":1.0,"op":"set","key":"b","value":{"n":2},"expires_at":null}'
    whole = body + b" #%08x" % zlib.crc32(body)  # a valid checksum: only the newline is lost
    with (tmp_path / "journal.jsonl").open("ab") as file:
        file.write(whole)  # a complete record whose writer died before the newline
    assert await store.get("a") == {"n": 1}  # seen, and reported, as torn
    await store.set("c", {"n": 3})  # seals the fragment; it must not become a record now
    _, other, _ = make(tmp_path, backend)  # a process that never saw the fragment open
    with pytest.raises(StoreUnavailable):
        await other.get("b")  # not in the journal
    backend.down = False
    report = await other.replay()
    assert (report.applied, report.completed, len(report.damaged)) == (2, True, 1)
    assert report.damaged[0].reason.startswith("torn")
    assert await backend.get_many(["a", "b", "c"]) == {"a": {"n": 1}, "c": {"n": 3}}
    assert len(recorder.of(Event.JOURNAL_TORN_RECORD)) == 1


async def test_a_damaged_header_does_not_hide_a_truncation_by_another_process(
    tmp_path: Path,
) -> None:
    path = tmp_path / "journal.jsonl"
    backend, writer, _ = make(tmp_path)
    backend.down = True
    await writer.set("a", {"n": 1})
    data = path.read_bytes()
    header_length = data.index(b"\n")
    path.write_bytes(b"x" * header_length + data[header_length:])  # damaged in place
    _, first, _ = make(tmp_path, backend)
    _, second, _ = make(tmp_path, backend)
    assert await first.get("a") == {"n": 1}
    backend.down = False
    assert (await second.replay()).completed  # truncates the journal ...
    backend.down = True
    await second.set("a", {"n": 2})  # ... and refills it beyond first's old offset
    await second.set("pad", {"pad": "x" * 200})
    assert await first.get("a") == {"n": 2}
    assert await first.get("pad") == {"pad": "x" * 200}


async def test_the_default_ttl_is_read_from_the_primary(tmp_path: Path) -> None:
    clock = FakeClock()
    backend = AsyncFlakyStore(clock=clock, default_ttl=100)
    # Retries that wait milliseconds, not the default seconds: the outage is the point here.
    quick = RetryPolicy(attempts=2, initial_wait=0.001, max_wait=0.001, jitter=0)
    retrying = AsyncRetryingStore(backend, policy=quick)
    store = AsyncWithFallback(retrying, tmp_path / "j", clock=clock, fsync=False)
    OPENED.append(store)
    stack = resilient(backend, tmp_path / "j2", clock=clock, fsync=False, retry=quick)
    OPENED.append(stack)
    backend.down = True
    await store.set("k", {})
    await stack.set("s", {})
    assert await store.ttl("k") == 100  # not "never", which the journal would assume
    assert await stack.ttl("s") == 100
    backend.down = False
    assert (await store.replay()).completed
    assert await backend.ttl("k") == 100
    with pytest.raises(ConfigurationError, match="default TTL"):
        AsyncWithFallback(backend, tmp_path / "j3", default_ttl=5)
