"""Bad input during an outage: refused before the journal, as on a healthy backend.

The contract suite checks every wrapper with its backend up; here the backend is down, so a
write would go to the fallback journal. A TTL beyond `MAX_TTL` and a container that is not
what ``set_many``/``get_many`` take must still raise their typed errors, and the journal
must stay empty (nothing to replay, no backend call).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from sessionkit import MAX_TTL, FakeClock, InvalidKey, InvalidTTL, SerializationError
from sessionkit.resilience import WithFallback
from sessionkit.testing import FlakyStore

HUGE_TTLS: list[Any] = [MAX_TTL + 1, 1e13, timedelta.max, float("inf"), float("nan")]


@pytest.fixture
def down(tmp_path: Path) -> Any:
    backend = FlakyStore(clock=FakeClock())
    backend.set("k", {"keep": 1})
    store = WithFallback(
        backend, tmp_path / "journal.jsonl", clock=backend.state.clock, replay_interval=None
    )
    backend.down = True
    yield store, tmp_path / "journal.jsonl"
    store.close()


@pytest.mark.parametrize("ttl", HUGE_TTLS)
def test_a_ttl_out_of_range_is_refused_before_the_journal(down: Any, ttl: Any) -> None:
    store, journal = down
    with pytest.raises(InvalidTTL):
        store.set("k", {"new": 1}, ttl=ttl)
    with pytest.raises(InvalidTTL):
        store.set_many({"k": {"new": 1}}, ttl=ttl)
    with pytest.raises(InvalidTTL):
        store.create("fresh", {"new": 1}, ttl=ttl)
    with pytest.raises(InvalidTTL):
        store.merge("k", {"new": 1}, ttl=ttl)
    with pytest.raises(InvalidTTL):
        store.update("k", lambda v: {"new": 1}, ttl=ttl, default={})
    with pytest.raises(InvalidTTL):
        store.touch("k", ttl)
    assert journal.read_bytes() == b""
    assert store.journal.pending() is False


@pytest.mark.parametrize("items", [None, [("k", {"new": 1})], "k"])
def test_set_many_of_a_non_mapping_is_refused_before_the_journal(down: Any, items: Any) -> None:
    store, journal = down
    with pytest.raises(SerializationError):
        store.set_many(items)
    assert journal.read_bytes() == b""


@pytest.mark.parametrize("keys", [None, "abc", b"abc"])
def test_get_many_of_a_non_collection_is_refused_during_an_outage(down: Any, keys: Any) -> None:
    store, _ = down
    store.set("a", {"journaled": True})  # a pending journal: get_many reads the overlay
    with pytest.raises(InvalidKey):
        store.get_many(keys)
