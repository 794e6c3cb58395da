"""Hypothesis: random writes, outages, recoveries, lost replies, interrupted replays,
restarts and a second writer on the primary; every answer the fallback gives is the last
write, and after the final replay the primary equals a model of the last writes, with
the documented conflict rule for creates journaled during an outage.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, precondition, rule

from sessionkit import FakeClock, SessionNotFound, StoreUnavailable
from sessionkit.resilience import Event, WithFallback
from sessionkit.testing import FlakyStore
from tests.resilience.recorder import Recorder

_T = TypeVar("_T")

KEYS = st.sampled_from(["a", "b", "c", "d"])
VALUES = st.dictionaries(st.sampled_from(["x", "y", "z"]), st.integers(0, 9), max_size=3)


class FallbackMachine(RuleBasedStateMachine):
    """``model``: what reads through the fallback must answer now (read-your-writes).

    A create journaled while the journal did not know its key answers True
    optimistically; if the primary holds the key with another value, that create loses at
    replay, and only it: the key's later journaled writes land on the entry that won.
    ``doomed`` holds the value such a key will have on the primary (the winner's, with
    the later merges' fields; a later set, update or delete of the key ends it), which
    becomes the model's once the generation is replayed and truncated (however many
    interrupted replays and restarts that takes).
    """

    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="sk-fallback-model-"))
        self.clock = FakeClock()
        self.backend = FlakyStore(clock=self.clock)
        self.other = FlakyStore(state=self.backend.state)  # a second writer's connection
        self.recorder = Recorder()
        self.store = self._open()
        self.model: dict[str, dict[str, Any]] = {}
        self.doomed: dict[str, dict[str, Any] | None] = {}
        #: Keys the current journal generation mentions; ``viewed``: with a value view
        #: (every journaled write but a touch).
        self.mentioned: set[str] = set()
        self.viewed: set[str] = set()

    def _open(self) -> WithFallback:
        return WithFallback(
            self.backend,
            self.dir / "journal.jsonl",
            clock=self.clock,
            fsync=False,
            observers=[self.recorder],
            replay_interval=None,  # the model replays only where its rules say
        )

    def _run(self, call: Callable[[], _T]) -> tuple[_T, bool]:
        """Make one call; returns its result and whether the journal answered it.

        A replay that completed inside the call (always before the call's own effect)
        ends the journal generation: the doomed keys take their primary values.
        """
        # Time passes between two calls (1 ms), as it does on a real clock: replay orders
        # writes by their instants, and writes made at one frozen instant would tie.
        self.clock.advance(0.001)
        start = len(self.recorder.events)
        try:
            result = call()
        finally:
            names = [name for name, _ in self.recorder.events[start:]]
            if Event.FALLBACK_RECOVERED in names:
                for key, value in self.doomed.items():
                    if value is None:
                        self.model.pop(key, None)
                    else:
                        self.model[key] = value
                self.doomed.clear()
                self.mentioned.clear()
                self.viewed.clear()
        return result, Event.FALLBACK_JOURNALED in names

    def _journaled(
        self, *keys: str, view: bool = True, patch: dict[str, Any] | None = None
    ) -> None:
        """``keys`` were journaled: by a merge of ``patch``, else (``view``) a write that
        replaces the value, else a touch."""
        self.mentioned.update(keys)
        if view:
            self.viewed.update(keys)
        for key in keys:
            if key not in self.doomed:
                continue
            if patch is not None:  # re-merged into the entry that won
                winner = self.doomed[key]
                self.doomed[key] = {**(winner or {}), **patch}
            elif view:  # a write of its own, newer than the winner: it lands
                del self.doomed[key]

    # -- writes -------------------------------------------------------------------------

    @rule(key=KEYS, value=VALUES)
    def set(self, key: str, value: dict[str, Any]) -> None:
        _, journaled = self._run(lambda: self.store.set(key, value))
        self.model[key] = value
        if journaled:
            self._journaled(key)

    @rule(key=KEYS, patch=VALUES)
    def merge(self, key: str, patch: dict[str, Any]) -> None:
        result, journaled = self._run(lambda: self.store.merge(key, patch))
        self.model[key] = {**self.model.get(key, {}), **patch}
        # During an outage a merge of an unseen key answers only the fields it knows.
        assert result.items() <= self.model[key].items()
        if journaled:
            self._journaled(key, patch=patch)

    @rule(key=KEYS)
    def delete(self, key: str) -> None:
        _, journaled = self._run(lambda: self.store.delete(key))
        self.model.pop(key, None)
        if journaled:
            self._journaled(key)

    @rule(key=KEYS, patch=VALUES)
    def set_many(self, key: str, patch: dict[str, Any]) -> None:
        items = {key: patch, "e": {"from": len(patch)}}
        _, journaled = self._run(lambda: self.store.set_many(items))
        self.model.update(items)
        if journaled:
            self._journaled(*items)

    @rule(key=KEYS, value=VALUES)
    def create(self, key: str, value: dict[str, Any]) -> None:
        created, journaled = self._run(lambda: self.store.create(key, value))
        present = key in self.model
        if not journaled or key in self.viewed:  # the primary, or a journal that knows
            assert created is (not present)
            if created:
                self.model[key] = value
        else:  # the journal does not know the key: optimistic
            assert created is True
            self._journaled(key)
            if present and self.model[key] != value:  # it will lose at replay
                self.doomed[key] = self.model[key]
            self.model[key] = value
            return
        if journaled:
            self._journaled(key)

    @rule(key=KEYS)
    def touch(self, key: str) -> None:
        touched, journaled = self._run(lambda: self.store.touch(key))
        if not journaled or key in self.viewed:
            assert touched is (key in self.model)
        else:
            assert touched is True  # optimistic
        if journaled:
            self._journaled(key, view=False)

    @precondition(lambda self: not self.backend.lose_replies)  # a lost update is ambiguous
    @rule(key=KEYS)
    def update(self, key: str) -> None:
        try:
            result, journaled = self._run(
                lambda: self.store.update(key, lambda v: {**v, "n": v.get("n", 0) + 1})
            )
        except (StoreUnavailable, SessionNotFound):
            return  # nothing written: the value is unknown locally, or absent
        self.model[key] = result
        if journaled:
            self._journaled(key)

    @precondition(lambda self: not self.backend.down)
    @rule(key=KEYS, value=VALUES)
    def other_writer_sets(self, key: str, value: dict[str, Any]) -> None:
        """Another process writes straight to the primary (it can reach it), on a key the
        pending journal does not mention: the journal has nothing to say against it."""
        if key in self.mentioned:
            return
        self.other.set(key, value)
        self.model[key] = value

    # -- the world ----------------------------------------------------------------------

    @rule()
    def go_down(self) -> None:
        self.backend.down = True

    @rule()
    def come_back(self) -> None:
        self.backend.down = False

    @rule(lose=st.booleans())
    def lose_replies(self, lose: bool) -> None:
        self.backend.lose_replies = lose

    @rule(after=st.integers(0, 4))
    def replay_dies_midway(self, after: int) -> None:
        self.backend.down = False
        self.backend.fail_after = after
        self._run(self.store.replay)

    @rule()
    def replay(self) -> None:
        self._run(self.store.replay)

    @rule()
    def restart(self) -> None:
        down, lose = self.backend.down, self.backend.lose_replies
        self.store.close()  # closes this backend view; the data lives on in its state
        self.backend = FlakyStore(state=self.backend.state)
        self.backend.down, self.backend.lose_replies = down, lose
        self.store = self._open()

    # -- reads must never be wrong ---------------------------------------------------------

    @rule(key=KEYS)
    def read(self, key: str) -> None:
        try:
            value, _ = self._run(lambda: self.store.get(key))
        except StoreUnavailable:
            # Allowed only when the primary fails (down, or losing every reply, so no
            # replay can finish) or the journal knows only merged fields of the key.
            view = self.store.journal.read(lambda overlay: overlay.view(key, self.clock.now()))
            merge_only = view is not None and not view.complete
            assert self.backend.down or self.backend.lose_replies or merge_only
            return
        assert value == self.model.get(key)

    def teardown(self) -> None:
        try:
            self.backend.down = False
            self.backend.lose_replies = False
            self.backend.fail_after = None
            report, _ = self._run(self.store.replay)
            assert report.completed
            everything = self.backend.get_many(["a", "b", "c", "d", "e"])
            assert everything == self.model
        finally:
            self.store.close()
            self.other.close()
            shutil.rmtree(self.dir, ignore_errors=True)


TestFallbackModel = FallbackMachine.TestCase
TestFallbackModel.settings = settings(max_examples=300, stateful_step_count=40, deadline=None)


def run_steps(*steps: tuple[str, dict[str, Any]]) -> None:
    """Drive the machine through fixed steps: the cases the random search finds slowly."""
    machine = FallbackMachine()
    try:
        for name, arguments in steps:
            getattr(machine, name)(**arguments)
    except BaseException:
        machine.store.close()
        raise
    machine.teardown()


def test_a_create_judged_lost_by_an_interrupted_replay_stays_lost() -> None:
    # The reviewer's case: another writer holds k; during an outage we create k (answered
    # True), write y, write k again; the replay judges the create and dies; the next
    # replay must still drop k's later record.
    run_steps(
        ("other_writer_sets", {"key": "a", "value": {"x": 1}}),
        ("go_down", {}),
        ("create", {"key": "a", "value": {"y": 1}}),
        ("set", {"key": "b", "value": {"z": 1}}),
        ("set", {"key": "a", "value": {"y": 2}}),
        ("replay_dies_midway", {"after": 2}),
        ("come_back", {}),
        ("read", {"key": "a"}),
    )


def test_a_create_judged_lost_stays_lost_across_a_restart() -> None:
    run_steps(
        ("set", {"key": "a", "value": {}}),
        ("go_down", {}),
        ("create", {"key": "a", "value": {"x": 0}}),
        ("delete", {"key": "b"}),
        ("delete", {"key": "a"}),
        ("replay_dies_midway", {"after": 2}),
        ("restart", {}),
        ("come_back", {}),
        ("read", {"key": "a"}),
    )
