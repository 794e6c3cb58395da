"""A writer process SIGKILLed while appending to the journal loses nothing it acknowledged.

The child journals writes through the real WithFallback (its primary is down for good).
In one test it is killed at an arbitrary point of a stream of appends; in the other it
first leaves half a record behind (what a crash in the middle of a large write leaves:
a single small ``write()`` is not torn by a signal, so the tear is made explicit) and is
killed while the rest never comes. Either way the journal must reopen, replay every
complete record and report the torn one.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from sessionkit import MemoryStore
from sessionkit.resilience import Event, WithFallback
from tests.resilience.recorder import Recorder

CHILD = r"""
import fcntl, os, sys, time
from sessionkit import MemoryStore, StoreUnavailable
from sessionkit.resilience import WithFallback

class DownStore(MemoryStore):
    def set(self, key, value, ttl=None):
        raise StoreUnavailable("the primary is down for this whole test")

    def apply_if_newer(self, write):  # a replay's conditional write: down as well
        raise StoreUnavailable("the primary is down for this whole test")

path, mode, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
store = WithFallback(DownStore(), path, fsync=False)
i = 0
while mode == "stream" or i < count:
    store.set(f"k{i}", {"i": i, "pad": "x" * 200})
    print(i, flush=True)  # acknowledged: the record is in the file
    i += 1
fd = os.open(path, os.O_WRONLY | os.O_APPEND)
fcntl.flock(fd, fcntl.LOCK_EX)  # as a real append does: whole records never interleave
os.write(fd, b'{"id":"torn","at":1.0,"op":"set","key":"torn","value":{"i":-1,"pad":"xx')
fcntl.flock(fd, fcntl.LOCK_UN)  # the crash "happened" mid-record, under the lock
print("torn", flush=True)
time.sleep(60)  # killed long before this ends
"""


def start_child(journal: Path, mode: str, count: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(journal), mode, str(count)],
        stdout=subprocess.PIPE,
    )


def read_lines_until(
    proc: subprocess.Popen[bytes], done: Callable[[list[str]], bool], timeout: float = 30.0
) -> list[str]:
    """The child's acknowledgement lines, read until ``done(lines)``; fail after ``timeout`` s.

    Reads the pipe unbuffered: ``select`` on a buffered reader can sleep on a line that
    is already in the buffer.
    """
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    lines: list[str] = []
    pending = b""
    deadline = time.monotonic() + timeout
    while not done(lines):
        left = deadline - time.monotonic()
        assert left > 0, f"the child never got there; it said {lines[-3:]}"
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            continue
        chunk = os.read(fd, 65536)
        assert chunk, "the child exited early"
        *complete, pending = (pending + chunk).split(b"\n")
        for line in complete:
            text = line.decode().strip()
            if text.isdigit() or text == "torn":  # structlog's lines are not ours
                lines.append(text)
    return lines


def kill(proc: subprocess.Popen[bytes]) -> list[str]:
    """SIGKILL the child and return whatever it had already printed."""
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    assert proc.stdout is not None
    rest = [line for line in proc.stdout.read().decode().splitlines() if line.isdigit()]
    proc.stdout.close()
    return rest


def replay(journal: Path) -> tuple[MemoryStore, Recorder, WithFallback]:
    primary, recorder = MemoryStore(), Recorder()
    store = WithFallback(primary, journal, observers=[recorder], replay_interval=None)
    return primary, recorder, store


def test_a_torn_last_record_is_reported_and_every_complete_one_replays(tmp_path: Path) -> None:
    journal = tmp_path / "journal.jsonl"
    proc = start_child(journal, "torn", 300)
    try:
        read_lines_until(proc, lambda lines: lines[-1:] == ["torn"])
    finally:
        kill(proc)
    assert not journal.read_bytes().endswith(b"\n")  # the tear is really there

    primary, recorder, store = replay(journal)
    report = store.replay()
    assert report.completed
    assert report.applied == 300
    assert len(report.damaged) == 1
    assert report.damaged[0].reason.startswith("torn")
    assert len(recorder.of(Event.JOURNAL_TORN_RECORD)) == 1
    values = primary.get_many([f"k{i}" for i in range(300)] + ["torn"])
    assert values == {f"k{i}": {"i": i, "pad": "x" * 200} for i in range(300)}
    assert journal.read_bytes() == b""
    store.close()


def test_a_writer_killed_mid_stream_loses_no_acknowledged_record(tmp_path: Path) -> None:
    journal = tmp_path / "journal.jsonl"
    proc = start_child(journal, "stream", 0)
    try:
        acknowledged = read_lines_until(proc, lambda lines: len(lines) >= 400)
    finally:
        acknowledged += kill(proc)
    primary, _, store = replay(journal)
    report = store.replay()
    assert report.completed
    assert len(report.damaged) <= 1  # at most the record being written when it died
    assert report.applied >= len(acknowledged)  # maybe one more, written but not acknowledged
    keys = [f"k{i}" for i in map(int, acknowledged)]
    assert len(primary.get_many(keys)) == len(acknowledged)
    store.close()


def test_two_processes_appending_to_one_journal_interleave_whole_records(
    tmp_path: Path,
) -> None:
    journal = tmp_path / "journal.jsonl"
    scripts = [CHILD.replace('f"k{i}"', f'f"p{n}-{{i}}"') for n in range(2)]
    children = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(journal), "count", "400"], stdout=subprocess.PIPE
        )
        for script in scripts
    ]
    try:
        for child in children:
            read_lines_until(child, lambda lines: lines[-1:] == ["torn"])
    finally:
        for child in children:
            kill(child)
    primary, _, store = replay(journal)
    report = store.replay()
    assert report.completed
    assert report.applied == 800
    # Each child left one torn fragment; the other child's next append ended it, or it
    # was the last line: either way both are reported and nothing else is damaged.
    assert len(report.damaged) == 2
    keys = [f"p{n}-{i}" for n in range(2) for i in range(400)]
    assert len(primary.get_many(keys)) == 800
    store.close()
