"""Session-wide hooks for the whole test suite."""

from __future__ import annotations

import functools
import gc
import sys
import tracemalloc
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Stop the Redis servers this session started (atexit stays as a backstop)."""
    servers = sys.modules.get("tests.redis_servers")
    if servers is not None:  # only if a test imported it: nothing to start otherwise
        servers.stop_all()


def pytest_collection_finish(session: pytest.Session) -> None:
    """Move what imports and collection made out of the collector's reach, so that the
    collection after each test (below) scans only what tests made since: milliseconds."""
    gc.collect()
    gc.freeze()


@pytest.fixture(autouse=True)
def _no_leaked_resources() -> Iterator[None]:
    """Fail the test that leaked an unclosed connection or file, with the warning's text.

    Without this a socket left in a reference cycle is only collected (and its
    ``ResourceWarning`` raised) in some later test, which then fails for no reason of its
    own. A collection after each test reports it here instead. Set up before, so torn
    down after, the test's other function fixtures (its event loop, its stores).
    """
    yield
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        gc.collect()
    leaks = [_leak(warning) for warning in caught if warning.category is ResourceWarning]
    if leaks:
        pytest.fail("this test leaked resources:\n" + "\n".join(leaks), pytrace=False)


#: The test running now (its node id), for `_made_in`.
_RUNNING: list[str] = [""]


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    _RUNNING[0] = item.nodeid


def _tag_redis_clients() -> None:
    """Note, on each redis.asyncio client, the test that made it: a leaked one collected in
    a later test (through a reference kept past its own test) then names its maker."""
    from redis.asyncio import Redis, RedisCluster  # noqa: PLC0415 - only for this hook

    for cls in (Redis, RedisCluster):
        made = cls.__init__

        @functools.wraps(made)  # the same signature, for anything that inspects it
        def tagged(self: Any, *args: Any, __made: Any = made, **kwargs: Any) -> None:
            self._sessionkit_made_in = _RUNNING[0]
            __made(self, *args, **kwargs)

        cls.__init__ = tagged  # type: ignore[method-assign]


_tag_redis_clients()


def _leak(warning: warnings.WarningMessage) -> str:
    """The warning's text; the test that made the object, if known; with
    PYTHONTRACEMALLOC set, where it was made."""
    text = str(warning.message)
    made_in = getattr(warning.source, "_sessionkit_made_in", None)
    if made_in is not None and made_in != _RUNNING[0]:
        text += f" (made in {made_in or 'collection'})"
    if warning.source is not None and tracemalloc.is_tracing():
        made = tracemalloc.get_object_traceback(warning.source)
        if made is not None:
            text += "\n  made at:\n    " + "\n    ".join(made.format())
    return text


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[object]:
    """A private redis-server (tests.redis_servers.RedisProcess) for fault injection."""
    from tests.redis_servers import RedisProcess  # noqa: PLC0415 - only when a test asks

    directory = tmp_path / "redis"
    directory.mkdir()
    server = RedisProcess(directory)
    server.start()
    try:
        yield server
    finally:
        server.stop()
