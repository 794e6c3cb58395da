"""The sync background replayer's thread does not outlive a store dropped without close().

Tried: a store whose primary is down holds journaled records (so its replay thread runs
and keeps failing); the app drops its last reference without closing it.
"""

from __future__ import annotations

import gc
from pathlib import Path

from sessionkit.resilience import WithFallback
from sessionkit.testing import FlakyStore


def test_a_dropped_store_lets_its_replay_thread_end(tmp_path: Path) -> None:
    primary = FlakyStore()
    store = WithFallback(primary, tmp_path / "j", fsync=False, replay_interval=0.01)
    primary.down = True
    store.set("k", {"n": 1})
    thread = store._background._thread
    assert thread is not None
    assert thread.is_alive()
    del store
    gc.collect()
    thread.join(timeout=5)
    assert not thread.is_alive()
