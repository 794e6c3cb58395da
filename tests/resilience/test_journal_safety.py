"""The journal's files cannot be hijacked: symlinks, foreign owners, loose modes and
directories, legacy and damaged cursors, format-1 journals."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from sessionkit import ConfigurationError, FakeClock, JournalUnsafe, MemoryStore
from sessionkit.resilience import Event, WithFallback
from sessionkit.resilience.journal import Journal
from sessionkit.testing import FlakyStore
from tests.resilience.recorder import Recorder

_OPENED: list[WithFallback] = []


@pytest.fixture(autouse=True)
def close_opened() -> Iterator[None]:
    yield
    while _OPENED:
        _OPENED.pop().close()


@pytest.fixture
def private(tmp_path: Path) -> Path:
    directory = tmp_path / "private"
    directory.mkdir(mode=0o700)
    return directory


def open_fallback(path: Path, **options: object) -> tuple[FlakyStore, WithFallback, Recorder]:
    backend = FlakyStore(clock=FakeClock())
    recorder = Recorder()
    options.setdefault("replay_interval", None)  # replays only when a test says so
    store = WithFallback(
        backend, path, clock=backend.state.clock, fsync=False, observers=[recorder], **options
    )
    _OPENED.append(store)
    return backend, store, recorder


def test_a_new_journal_and_its_cursor_are_created_0600(private: Path) -> None:
    old = os.umask(0)
    try:
        open_fallback(private / "j")
    finally:
        os.umask(old)
    assert (private / "j").stat().st_mode & 0o777 == 0o600
    assert (private / "j.cursor").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("which", ["j", "j.cursor", "j.dead"])
def test_a_symlink_is_refused_and_its_target_untouched(private: Path, which: str) -> None:
    target = private / "target"
    target.write_bytes(b"precious")
    target.chmod(0o600)
    (private / which).symlink_to(target)
    with pytest.raises(JournalUnsafe, match="symbolic link") as caught:
        Journal(private / "j")
    assert caught.value.path == str(private / which)
    assert target.read_bytes() == b"precious"


def test_a_file_group_or_others_can_read_is_refused_with_the_fix(private: Path) -> None:
    (private / "j").write_bytes(b"")
    (private / "j").chmod(0o644)
    with pytest.raises(JournalUnsafe, match="chmod 600") as caught:
        Journal(private / "j")
    assert str(private / "j") in str(caught.value)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give a file to another user")
def test_a_file_owned_by_another_user_is_refused(private: Path) -> None:
    (private / "j").write_bytes(b"")
    (private / "j").chmod(0o600)
    os.chown(private / "j", 12345, 12345)
    with pytest.raises(JournalUnsafe, match="owned by uid 12345"):
        Journal(private / "j")


def test_a_hard_linked_file_is_refused(private: Path) -> None:
    (private / "j").write_bytes(b"")
    (private / "j").chmod(0o600)
    os.link(private / "j", private / "elsewhere")
    with pytest.raises(JournalUnsafe, match="hard links"):
        Journal(private / "j")


def test_a_directory_others_can_write_needs_the_sticky_bit(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    with pytest.raises(JournalUnsafe, match="sticky"):
        Journal(shared / "j")
    assert not (shared / "j").exists()
    shared.chmod(0o1777)  # like /tmp: others cannot replace our files
    Journal(shared / "j").close()


def test_a_damaged_cursor_is_reported_and_the_replay_goes_on(private: Path) -> None:
    backend, store, recorder = open_fallback(private / "j")
    backend.down = True
    store.set("a", {"n": 1})
    store.set("b", {"n": 2})
    backend.down = False
    backend.fail_after = 1  # "a" lands, then the primary dies again
    assert not store.replay().completed
    data = (private / "j.cursor").read_bytes()
    sequences = [int(data[i * 96 : (i + 1) * 96].split()[2]) for i in range(2)]
    newest = sequences.index(max(sequences))  # the slot that says "a" is done
    with (private / "j.cursor").open("r+b") as cursor:
        cursor.seek(newest * 96)
        cursor.write(b"\xff garbage {not json")
    backend.down = False
    backend.state.clock.advance(1)
    backend.set("a", {"n": "changed since"})  # a later write by another instance
    report = store.replay()
    assert report.completed
    # The older slot stood: "a" was replayed again (as a replay may), but the primary's
    # later write of it stands (superseded); then "b".
    assert (report.superseded, report.applied) == (1, 1)
    assert backend.get_many(["a", "b"]) == {"a": {"n": "changed since"}, "b": {"n": 2}}
    [damaged] = recorder.of(Event.JOURNAL_CURSOR_DAMAGED)
    assert damaged["reason"].startswith(f"slot {'AB'[newest]}")


def test_a_format_1_journal_is_replayed_once_then_format_2_is_written(private: Path) -> None:
    path = private / "j"
    generation = "0" * 32
    lines = [
        {"sessionkit_journal": 1, "generation": generation},
        {"id": "op1", "at": 1.0, "op": "set", "key": "a", "value": {"n": 1}, "expires_at": None},
        {"id": "op2", "at": 2.0, "op": "set", "key": "b", "value": {"n": 2}, "expires_at": None},
    ]
    path.write_bytes(b"".join(json.dumps(line).encode() + b"\n" for line in lines))
    path.chmod(0o600)
    cursor = private / "j.cursor"
    cursor.write_bytes(f"generation {generation}\nop1\n".encode())  # op1 already applied
    cursor.chmod(0o600)
    primary = MemoryStore()
    # Its records are from 1970: no max_replay_age, or they would be set aside.
    store = WithFallback(primary, path, fsync=False, replay_interval=None, max_replay_age=None)
    _OPENED.append(store)
    assert store.get("b") == {"n": 2}  # the replay ran first
    assert primary.get("a") is None  # op1 was applied before: not again
    assert path.read_bytes() == b""
    path.write_bytes(b'{"sessionkit_journal":7,"generation":"x"}\n')
    newer = WithFallback(primary, path, fsync=False, replay_interval=None)  # a new process
    _OPENED.append(newer)
    with pytest.raises(ConfigurationError, match="format 7"):
        newer.get("b")


def test_with_a_key_format_1_records_are_set_aside_not_replayed(private: Path) -> None:
    path = private / "j"
    lines = [
        {"sessionkit_journal": 1, "generation": "g"},
        {"id": "op1", "at": 1.0, "op": "set", "key": "a", "value": {"n": 1}, "expires_at": None},
    ]
    path.write_bytes(b"".join(json.dumps(line).encode() + b"\n" for line in lines))
    path.chmod(0o600)
    primary = MemoryStore()
    store = WithFallback(
        primary,
        path,
        fsync=False,
        journal_key=b"0123456789abcdef",
        replay_interval=None,
        max_replay_age=None,  # its record is from 1970
    )
    _OPENED.append(store)
    report = store.replay()
    assert report.completed
    assert primary.get("a") is None
    assert [letter.reason for letter in store.journal.dead_letters()] == [
        "not authenticated (format 1 journal)"
    ]
    assert store.journal.retry_dead_letters() == 1  # the operator vouches for it
    assert store.replay().applied == 1
    assert primary.get("a") == {"n": 1}
