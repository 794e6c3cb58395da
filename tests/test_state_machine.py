"""A Hypothesis state machine: every store, sync and async, against a plain-dict model.

The model is the contract in a few lines: values, versions and expiry instants. Rules
write, read, expire (by moving the fake clock), sweep and purge; after every step every
key must read back exactly as the model says. Backends whose server keeps time (Redis)
run the same machine without TTLs, since their clock cannot be moved.
"""

from __future__ import annotations

import asyncio
import math
import tempfile
import uuid
from collections.abc import Awaitable
from pathlib import Path
from typing import Any, TypeVar

import attrs
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from sessionkit import FakeClock, SessionNotFound, open_async_store, open_store
from tests.backends import SPECS, BackendSpec

T = TypeVar("T")

KEYS = st.sampled_from(["a:1", "a:2", "a:10", "b:1", "b:22"])
PREFIXES = st.sampled_from(["", "a:", "a:1", "b:2", "c"])
VALUES = st.dictionaries(
    st.sampled_from(["n", "s", "l"]),
    st.one_of(st.integers(-5, 5), st.text(max_size=3), st.lists(st.booleans(), max_size=2)),
    max_size=3,
)
TTLS = st.sampled_from([None, 5.0, 30.0])


@attrs.define
class Slot:
    value: dict[str, Any]
    version: int
    expires_at: float | None


class StoreMachine(RuleBasedStateMachine):
    spec: BackendSpec
    asynchronous: bool

    def __init__(self) -> None:
        super().__init__()
        self.spec.require()
        self.tmp = tempfile.TemporaryDirectory()
        options = self.spec.options(uuid.uuid4().hex[:12])
        self.clock = FakeClock() if self.spec.fake_clock else None
        if self.clock is not None:
            options["clock"] = self.clock
        url = self.spec.url(Path(self.tmp.name))
        if self.asynchronous:
            self.loop = asyncio.new_event_loop()
            self.store: Any = open_async_store(url, **options)
        else:
            self.store = open_store(url, **options)
        self.model: dict[str, Slot] = {}
        # Keys the model saw expire that a lazily expiring store may still hold until sweep.
        self.unswept: set[str] = set()

    def call(self, result: Awaitable[T] | T) -> T:
        """Run one store call: await it on the machine's loop, or take the sync result."""
        if self.asynchronous:
            return self.loop.run_until_complete(result)  # type: ignore[arg-type]
        return result  # type: ignore[return-value]

    def teardown(self) -> None:
        try:
            self.call(self.store.purge(""))
            self.call(self.store.close())
        finally:
            if self.asynchronous:
                self.loop.close()
            self.tmp.cleanup()

    # -- the model ------------------------------------------------------------------------

    def now(self) -> float:
        assert self.clock is not None
        return self.clock.now()

    def live(self, key: str) -> Slot | None:
        slot = self.model.get(key)
        # Without a fake clock no TTL is ever set, so now() is only needed with one.
        if slot is not None and slot.expires_at is not None and slot.expires_at <= self.now():
            del self.model[key]
            self.unswept.add(key)
            return None
        return slot

    def expiry(self, ttl: float | None, keep: Slot | None) -> float | None:
        if ttl is not None:
            return self.now() + ttl
        return keep.expires_at if keep is not None else None

    def ttl_choice(self, ttl: float | None) -> float | None:
        return ttl if self.clock is not None else None

    def written(self, key: str, value: dict[str, Any], expires_at: float | None) -> None:
        old = self.live(key)
        self.unswept.discard(key)
        self.model[key] = Slot(value, 1 if old is None else old.version + 1, expires_at)

    # -- rules ------------------------------------------------------------------------------

    @rule(key=KEYS, value=VALUES, ttl=TTLS)
    def set(self, key: str, value: dict[str, Any], ttl: float | None) -> None:
        ttl = self.ttl_choice(ttl)
        self.call(self.store.set(key, value, ttl))
        self.written(key, value, self.expiry(ttl, None))

    @rule(key=KEYS, value=VALUES, ttl=TTLS)
    def create(self, key: str, value: dict[str, Any], ttl: float | None) -> None:
        ttl = self.ttl_choice(ttl)
        created = self.call(self.store.create(key, value, ttl))
        assert created == (self.live(key) is None)
        if created:
            self.written(key, value, self.expiry(ttl, None))

    @rule(key=KEYS, ttl=TTLS, with_default=st.booleans())
    def update(self, key: str, ttl: float | None, with_default: bool) -> None:
        ttl = self.ttl_choice(ttl)

        def bump(value: dict[str, Any]) -> dict[str, Any]:
            n = value.get("n")
            return {**value, "n": (n if isinstance(n, int) else 0) + 1}

        old = self.live(key)
        default = {"n": 100} if with_default else None
        if old is None and default is None:
            with pytest.raises(SessionNotFound):
                self.call(self.store.update(key, bump, ttl))
            return
        result = self.call(self.store.update(key, bump, ttl, default=default))
        expected = bump(old.value if old is not None else {"n": 100})
        assert result == expected
        self.written(key, expected, self.expiry(ttl, old))

    @rule(key=KEYS, patch=VALUES, ttl=TTLS)
    def merge(self, key: str, patch: dict[str, Any], ttl: float | None) -> None:
        ttl = self.ttl_choice(ttl)
        old = self.live(key)
        expected = {**(old.value if old is not None else {}), **patch}
        assert self.call(self.store.merge(key, patch, ttl)) == expected
        self.written(key, expected, self.expiry(ttl, old))

    @rule(items=st.dictionaries(KEYS, VALUES, max_size=3), ttl=TTLS)
    def set_many(self, items: dict[str, dict[str, Any]], ttl: float | None) -> None:
        ttl = self.ttl_choice(ttl)
        self.call(self.store.set_many(items, ttl))
        for key, value in items.items():
            self.written(key, value, self.expiry(ttl, None))

    @rule(key=KEYS)
    def delete(self, key: str) -> None:
        assert self.call(self.store.delete(key)) == (self.live(key) is not None)
        self.model.pop(key, None)

    @rule(key=KEYS, ttl=TTLS)
    def touch(self, key: str, ttl: float | None) -> None:
        ttl = self.ttl_choice(ttl)
        old = self.live(key)
        assert self.call(self.store.touch(key, ttl)) == (old is not None)
        if old is not None:
            old.expires_at = self.expiry(ttl, None)

    @rule(prefix=PREFIXES)
    def purge(self, prefix: str) -> None:
        doomed = [key for key in self.model if key.startswith(prefix) and self.live(key)]
        assert self.call(self.store.purge(prefix)) == len(doomed)
        for key in doomed:
            del self.model[key]
        self.unswept -= {key for key in self.unswept if key.startswith(prefix)}

    @precondition(lambda self: self.clock is not None)
    @rule(seconds=st.sampled_from([1.0, 4.999, 5.0, 29.0, 31.0]))
    def advance(self, seconds: float) -> None:
        assert self.clock is not None
        self.clock.advance(seconds)

    @rule()
    def sweep(self) -> None:
        for key in list(self.model):
            self.live(key)
        # Backends differ in when they drop an expired entry (on read, on sweep, natively);
        # the invariants check that nothing live was swept.
        assert 0 <= self.call(self.store.sweep()) <= len(self.unswept)
        self.unswept.clear()

    # -- invariants ---------------------------------------------------------------------------

    @invariant()
    def every_key_reads_as_modelled(self) -> None:
        if not hasattr(self, "store"):
            return
        for key in ["a:1", "a:2", "a:10", "b:1", "b:22"]:
            slot = self.live(key)
            entry = self.call(self.store.get_entry(key))
            if slot is None:
                assert entry is None, key
                continue
            assert entry is not None, key
            assert (entry.value, entry.version) == (slot.value, slot.version), key
            remaining = self.call(self.store.ttl(key))
            if slot.expires_at is None:
                assert remaining == math.inf
            else:
                assert remaining == pytest.approx(slot.expires_at - self.now(), abs=1e-3)

    @invariant()
    def scans_and_counts_agree_with_the_model(self) -> None:
        if not hasattr(self, "store"):
            return
        live = {key for key in list(self.model) if self.live(key)}
        assert self.call(self.store.count("a:")) == len({k for k in live if k.startswith("a:")})
        assert set(self.call(_collect(self.store.scan(""), self.asynchronous))) == live
        found = self.call(self.store.get_many(["a:1", "b:1", "zz"]))
        assert set(found) == {k for k in ("a:1", "b:1") if k in live}


async def _async_list(iterator: Any) -> list[str]:
    return [key async for key in iterator]


def _collect(iterator: Any, asynchronous: bool) -> Any:
    return _async_list(iterator) if asynchronous else list(iterator)


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("backend", sorted(SPECS))
def test_store_matches_the_model(backend: str, asynchronous: bool) -> None:
    spec = SPECS[backend]
    spec.require()
    machine = type(
        f"StoreMachine_{backend}_{'async' if asynchronous else 'sync'}",
        (StoreMachine,),
        {"spec": spec, "asynchronous": asynchronous},
    )
    # Real I/O costs per call (servers, SQLite files): fewer, shorter runs there.
    in_memory = spec.name == "memory"
    machine.TestCase.settings = settings(
        max_examples=60 if in_memory else 25,
        stateful_step_count=30 if in_memory else 20,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    machine.TestCase().runTest()
