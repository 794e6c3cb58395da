"""The SQL store's two defences of ``update``, each proven on its own, and sweep racing a
renewal.

``update`` locks the row (``SELECT ... FOR UPDATE``; SQLite: ``BEGIN IMMEDIATE``) *and*
writes with a version compare-and-set. With both on, either alone would keep every test
green, so each is tested with the other out of the way: the version check with the lock
turned off (the store's private ``_lock_rows=False``), the lock by showing that a second
writer waits for it. The interleavings are forced (a second writer runs inside the update
function, or inside the sweep between its SELECT and its DELETE), not left to timing.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from sessionkit import FakeClock, SessionStore, open_store
from tests.backends import SPECS

DATABASES = ["sqlite", "postgresql", "mariadb"]
# SQLite's sweep holds the database's write lock from its SELECT to its DELETE, so no
# other writer can get in between: the race exists only where rows are locked one by one.
ROW_LOCKING = ["postgresql", "mariadb"]


class Stores:
    """Stores on one fresh table of one database, closed (and the table emptied) after."""

    def __init__(self, name: str, tmp_path: Path) -> None:
        self.spec = SPECS[name]
        self.spec.require()
        self.url = self.spec.url(tmp_path)
        self.options = self.spec.options(uuid.uuid4().hex[:12])
        self.opened: list[SessionStore] = []

    def open(self, **options: Any) -> SessionStore:
        store = open_store(self.url, **{**self.options, **options})
        self.opened.append(store)
        return store

    def close(self) -> None:
        if self.opened:
            self.opened[0].purge("")
        for store in self.opened:
            store.close()


@pytest.fixture(params=DATABASES)
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stores]:
    opened = Stores(str(request.param), tmp_path)
    yield opened
    opened.close()


@pytest.fixture(params=ROW_LOCKING)
def row_locking_stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stores]:
    opened = Stores(str(request.param), tmp_path)
    yield opened
    opened.close()


# -- update: the version check alone, the lock alone ----------------------------------------


def test_without_the_row_lock_the_version_check_keeps_a_concurrent_update(
    stores: Stores,
) -> None:
    # Tried: between this update's read and its write, another store (another connection,
    # as another process would) adds 10. With no row lock nothing makes it wait, so only
    # the version compare-and-set can notice: this update must start over from 10.
    store = stores.open(_lock_rows=False)
    other = stores.open()
    store.set("k", {"n": 0})
    seen: list[int] = []

    def increment(value: dict[str, Any]) -> dict[str, Any]:
        seen.append(value["n"])
        if len(seen) == 1:
            other.update("k", lambda v: {"n": v["n"] + 10})
        return {"n": value["n"] + 1}

    assert store.update("k", increment) == {"n": 11}
    assert seen == [0, 10]  # the first attempt lost, the second read the other's write
    entry = store.get_entry("k")
    assert entry is not None
    assert (entry.value, entry.version) == ({"n": 11}, 3)


def test_without_the_row_lock_threads_updating_one_key_lose_nothing(stores: Stores) -> None:
    # The same defence under real contention: 6 threads x 40 increments, version check only.
    store = stores.open(_lock_rows=False, max_attempts=1000)
    store.set("counter", {"n": 0})
    writers, increments = 6, 40
    start = threading.Barrier(writers)
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            start.wait()
            for _ in range(increments):
                store.update("counter", lambda v: {"n": v["n"] + 1})
        except BaseException as error:  # surfaced below
            errors.append(error)

    threads = [threading.Thread(target=writer) for _ in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors[0]
    assert store.get("counter") == {"n": writers * increments}


def test_the_row_lock_makes_a_second_writer_wait(stores: Stores) -> None:
    # Tried: the same interleaving with the lock on. The other writer (in a thread, so
    # that it can wait) must still be blocked while the update function runs, and this
    # update must succeed at its first attempt: the lock alone serialises the two.
    store = stores.open()
    other = stores.open()
    store.set("k", {"n": 0})
    seen: list[int] = []
    finished = threading.Event()
    errors: list[BaseException] = []

    def other_writer() -> None:
        try:
            other.update("k", lambda v: {"n": v["n"] + 10})
        except BaseException as error:  # surfaced below
            errors.append(error)
        finally:
            finished.set()

    thread = threading.Thread(target=other_writer)

    def increment(value: dict[str, Any]) -> dict[str, Any]:
        seen.append(value["n"])
        if len(seen) == 1:
            thread.start()
            assert not finished.wait(0.5), "the other writer did not wait for the row lock"
        return {"n": value["n"] + 1}

    assert store.update("k", increment) == {"n": 1}
    thread.join(timeout=30)
    assert not errors, errors[0]
    assert seen == [0]
    assert store.get("k") == {"n": 11}


# -- sweep racing a renewal -------------------------------------------------------------------


def _between_select_and_delete(store: SessionStore, renew: Any) -> list[bool]:
    """Run ``renew`` once, right after the sweep's SELECT of expired keys."""
    engine: sa.Engine = store.engine  # type: ignore[attr-defined]
    fired: list[bool] = []

    def after(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        text = " ".join(statement.split()).lower()
        if not fired and text.startswith("select") and "expires_at <=" in text:
            fired.append(True)
            renew()

    sa.event.listen(engine, "after_cursor_execute", after)
    return fired


def test_a_row_renewed_between_the_sweeps_select_and_delete_survives(
    row_locking_stores: Stores,
) -> None:
    # Tried: the sweep has selected "rewritten" and "touched" as expired; before its
    # DELETE, another instance writes "rewritten" anew and touches "touched" (its clock is
    # a second behind, so to it the row is still live). The DELETE must re-check expiry.
    clock = FakeClock()
    lagging = FakeClock(clock.now() - 1.0)
    store = row_locking_stores.open(clock=clock)
    other = row_locking_stores.open(clock=lagging)
    store.set_many({"rewritten": {"v": 1}, "touched": {"v": 1}, "due": {"v": 1}}, ttl=10)
    clock.advance(10.5)
    lagging.advance(10.5)

    def renew() -> None:
        other.set("rewritten", {"v": 2}, ttl=3600)
        assert other.touch("touched", 3600) is True

    fired = _between_select_and_delete(store, renew)
    assert store.sweep() == 1  # "due" only
    assert fired == [True]
    assert store.get_many(["rewritten", "touched", "due"]) == {
        "rewritten": {"v": 2},
        "touched": {"v": 1},
    }
