"""What the memory store promises beyond the contract: sharing, sweep cost, no aliasing."""

from __future__ import annotations

import asyncio

from sessionkit import AsyncMemoryStore, FakeClock, MemoryStore
from sessionkit.stores.memory import MemoryState


def test_a_sync_and_an_async_store_can_share_one_state() -> None:
    state = MemoryState()
    MemoryStore(state=state).set("k", {"from": "sync"})
    assert asyncio.run(AsyncMemoryStore(state=state).get("k")) == {"from": "sync"}


def test_sweep_removes_exactly_the_expired_among_many_live() -> None:
    clock = FakeClock()
    store = MemoryStore(clock=clock)
    store.set_many({f"live:{i}": {} for i in range(20_000)}, ttl=3600)
    store.set_many({f"old:{i}": {} for i in range(100)}, ttl=10)
    clock.advance(11)
    assert store.sweep() == 100
    assert store.count() == 20_000
    assert store.sweep() == 0


def test_sweep_only_looks_at_due_heap_entries() -> None:
    # The expiry heap is ordered by instant: a sweep pops what is due and stops, so its
    # work is the number of expired (plus stale) entries, whatever the number of live ones.
    clock = FakeClock()
    state = MemoryState(clock=clock)
    store = MemoryStore(state=state)
    store.set_many({f"live:{i}": {} for i in range(5_000)}, ttl=3600)
    store.set_many({f"old:{i}": {} for i in range(7)}, ttl=10)
    clock.advance(11)
    before = len(state._expiries)
    assert store.sweep() == 7
    assert before - len(state._expiries) == 7  # popped exactly the due entries


def test_rewrites_do_not_grow_the_expiry_heap_without_bound() -> None:
    state = MemoryState(clock=FakeClock())
    store = MemoryStore(state=state)
    for i in range(10_000):
        store.set("same", {"i": i}, ttl=60)
    assert len(state._expiries) <= 2 * 1 + 1024


def test_stale_heap_entries_do_not_delete_a_rewritten_key() -> None:
    clock = FakeClock()
    store = MemoryStore(clock=clock)
    store.set("k", {"v": 1}, ttl=10)
    store.set("k", {"v": 2}, ttl=100)  # the (t+10, "k") heap entry is now stale
    clock.advance(11)
    assert store.sweep() == 0
    assert store.get("k") == {"v": 2}
