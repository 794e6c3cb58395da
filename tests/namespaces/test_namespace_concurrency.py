"""Concurrent namespace writes on one session lose nothing, on memory, SQLite and Redis.

16 writers on one id: ``update`` and ``merge`` mixed (with and without a maximum lifetime,
whose update reads the session first), ``conversations.append`` on a thread that does not
exist yet (the creation race, then the sliding-with-maximum-lifetime update), and two
``admin.finish`` racing for one wizard: exactly one gets it. With tasks on the async
classes and threads on the sync ones. Nothing here is timed: joins are bounded only so a
deadlock fails instead of hanging.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import pytest

from sessionkit import (
    AsyncSessionManager,
    SessionManager,
    SessionNotFound,
    TTLPolicy,
)
from sessionkit.presets import (
    TARIFF_CREATION,
    AsyncDocumentApp,
    DocumentApp,
)
from tests.backends import SPECS

WRITERS = 16
ROUNDS = 10
FINISH_RACES = 10
SPEC_NAMES = [name for name in ("memory", "sqlite", "redis") if name in SPECS]

# One counter for the updaters, one field per merger (merges of distinct fields must all land).
Tally: type[Any] = attrs.make_class(
    "Tally",
    {
        "n": attrs.field(type=int, default=0),
        **{f"w{i}": attrs.field(type=int, default=-1) for i in range(WRITERS // 2)},
    },
)
POLICIES = {
    "no-ttl": TTLPolicy.none(),
    "sliding-capped": TTLPolicy.sliding(3600, on_read=False, max_lifetime=7200),
}


@pytest.fixture(params=SPEC_NAMES)
def spec_name(request: pytest.FixtureRequest) -> str:
    SPECS[request.param].require()
    return str(request.param)


def open_sync(spec_name: str, tmp_path: Path) -> SessionManager:
    spec = SPECS[spec_name]
    options = spec.options(uuid.uuid4().hex[:12])
    return SessionManager.from_url(spec.url(tmp_path), sweep_interval=None, **options)


def open_async(spec_name: str, tmp_path: Path) -> AsyncSessionManager:
    spec = SPECS[spec_name]
    options = spec.options(uuid.uuid4().hex[:12])
    return AsyncSessionManager.from_url(spec.url(tmp_path), sweep_interval=None, **options)


def increment(tally: Any) -> Any:
    return attrs.evolve(tally, n=tally.n + 1)


def expected_tally() -> Any:
    return Tally(n=(WRITERS // 2) * ROUNDS, **{f"w{i}": ROUNDS - 1 for i in range(WRITERS // 2)})


def run_threads(workers: list[Callable[[], None]]) -> None:
    start = threading.Barrier(len(workers))
    errors: list[BaseException] = []

    def run(work: Callable[[], None]) -> None:
        try:
            start.wait()
            work()
        except BaseException as error:  # surfaced below, with its traceback
            errors.append(error)

    threads = [threading.Thread(target=run, args=(work,)) for work in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not any(thread.is_alive() for thread in threads), "a writer never finished"
    assert not errors, errors[0]


# -- update and merge ------------------------------------------------------------------------


@pytest.mark.parametrize("policy", sorted(POLICIES))
async def test_tasks_updating_and_merging_one_session_lose_nothing(
    spec_name: str, policy: str, tmp_path: Path
) -> None:
    async with open_async(spec_name, tmp_path) as manager:
        tallies = manager.namespace("tallies", Tally, policy=POLICIES[policy])
        try:
            await tallies.put("shared", Tally())

            async def updater() -> None:
                for _ in range(ROUNDS):
                    await tallies.update("shared", increment)

            async def merger(i: int) -> None:
                for j in range(ROUNDS):
                    await tallies.merge("shared", **{f"w{i}": j})

            writers = [updater() for _ in range(WRITERS // 2)]
            writers += [merger(i) for i in range(WRITERS // 2)]
            await asyncio.wait_for(asyncio.gather(*writers), 300)
            assert await tallies.get("shared") == expected_tally()
        finally:
            await manager.purge()


@pytest.mark.parametrize("policy", sorted(POLICIES))
def test_threads_updating_and_merging_one_session_lose_nothing(
    spec_name: str, policy: str, tmp_path: Path
) -> None:
    with open_sync(spec_name, tmp_path) as manager:
        tallies = manager.namespace("tallies", Tally, policy=POLICIES[policy])
        try:
            tallies.put("shared", Tally())

            def updater() -> None:
                for _ in range(ROUNDS):
                    tallies.update("shared", increment)

            def merger(i: int) -> Callable[[], None]:
                def merge() -> None:
                    for j in range(ROUNDS):
                        tallies.merge("shared", **{f"w{i}": j})

                return merge

            run_threads([updater] * (WRITERS // 2) + [merger(i) for i in range(WRITERS // 2)])
            assert tallies.get("shared") == expected_tally()
        finally:
            manager.purge()


async def test_tasks_updating_with_a_default_create_the_session_once(
    spec_name: str, tmp_path: Path
) -> None:
    async with open_async(spec_name, tmp_path) as manager:
        tallies = manager.namespace("tallies", Tally, policy=POLICIES["sliding-capped"])
        try:

            async def updater() -> None:
                for _ in range(ROUNDS):
                    await tallies.update("new", increment, default=Tally())

            await asyncio.wait_for(asyncio.gather(*(updater() for _ in range(WRITERS))), 300)
            assert (await tallies.get("new")).n == WRITERS * ROUNDS
        finally:
            await manager.purge()


# -- conversations -------------------------------------------------------------------------------


def message(writer: int, n: int) -> dict[str, Any]:
    return {"role": "user", "content": f"{writer}-{n}"}


def check_conversation(conversation: Any) -> None:
    contents = sorted(m["content"] for m in conversation.messages)
    assert contents == sorted(f"{w}-{n}" for w in range(WRITERS) for n in range(ROUNDS))
    assert conversation.usage == {"input_tokens": WRITERS * ROUNDS}


async def test_tasks_appending_to_one_conversation_lose_nothing(
    spec_name: str, tmp_path: Path
) -> None:
    async with open_async(spec_name, tmp_path) as manager:
        chats = AsyncDocumentApp(manager).conversations
        assert chats.policy.needs_created_at  # the read-then-update path
        try:

            async def writer(w: int) -> None:
                for n in range(ROUNDS):
                    await chats.append("thread", message(w, n), usage={"input_tokens": 1})

            await asyncio.wait_for(asyncio.gather(*(writer(w) for w in range(WRITERS))), 300)
            check_conversation(await chats.get("thread"))
        finally:
            await manager.purge()


def test_threads_appending_to_one_conversation_lose_nothing(spec_name: str, tmp_path: Path) -> None:
    with open_sync(spec_name, tmp_path) as manager:
        chats = DocumentApp(manager).conversations
        try:

            def writer(w: int) -> Callable[[], None]:
                def append() -> None:
                    for n in range(ROUNDS):
                        chats.append("thread", message(w, n), usage={"input_tokens": 1})

                return append

            run_threads([writer(w) for w in range(WRITERS)])
            check_conversation(chats.get("thread"))
        finally:
            manager.purge()


# -- admin.finish ----------------------------------------------------------------------------------


async def test_of_two_concurrent_finishes_exactly_one_gets_the_wizard(
    spec_name: str, tmp_path: Path
) -> None:
    async with open_async(spec_name, tmp_path) as manager:
        admin = AsyncDocumentApp(manager).admin
        try:
            for race in range(FINISH_RACES):
                await admin.start(race, TARIFF_CREATION)
                for value in (990, 30, "Pro"):
                    await admin.advance(race, value)
                outcomes = await asyncio.gather(
                    admin.finish(race), admin.finish(race), return_exceptions=True
                )
                won = [o for o in outcomes if not isinstance(o, BaseException)]
                lost = [o for o in outcomes if isinstance(o, BaseException)]
                assert len(won) == 1, outcomes  # tried: a double-clicked "confirm"
                assert won[0].data == {"price": 990, "duration": 30, "name": "Pro"}
                assert len(lost) == 1
                assert isinstance(lost[0], SessionNotFound), lost[0]
                assert await admin.current(race) is None
        finally:
            await manager.purge()


def test_of_two_threads_finishing_one_wizard_exactly_one_gets_it(
    spec_name: str, tmp_path: Path
) -> None:
    with open_sync(spec_name, tmp_path) as manager:
        admin = DocumentApp(manager).admin
        try:
            for race in range(FINISH_RACES):
                admin.start(race, TARIFF_CREATION)
                for value in (990, 30, "Pro"):
                    admin.advance(race, value)
                won: list[Any] = []
                lost: list[BaseException] = []

                def finish(
                    user_id: int = race, won: list[Any] = won, lost: list[BaseException] = lost
                ) -> None:
                    try:
                        won.append(admin.finish(user_id))
                    except SessionNotFound as error:
                        lost.append(error)

                run_threads([finish, finish])  # tried: a double-clicked "confirm"
                assert len(won) == 1, (won, lost)
                assert len(lost) == 1, (won, lost)
                assert won[0].data == {"price": 990, "duration": 30, "name": "Pro"}
        finally:
            manager.purge()
