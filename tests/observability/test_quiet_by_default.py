"""A library is silent: an application that configures no logging sees nothing from
sessionkit, even through an outage; one that configures logging gets structured records."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
from pathlib import Path

from sessionkit import MemoryStore
from sessionkit.observability import StoreEvent, observed
from sessionkit.resilience import Event, RetryPolicy, resilient
from sessionkit.testing import FlakyStore

ROOT = Path(__file__).resolve().parents[2]

APP = textwrap.dedent(
    """
    import sys
    from sessionkit import StoreUnavailable
    from sessionkit.observability import observed
    from sessionkit.resilience import RetryPolicy, resilient
    from sessionkit.testing import FlakyStore

    backend = FlakyStore()
    fast = RetryPolicy(attempts=2, initial_wait=0, max_wait=0, jitter=0)
    now = [0.0]
    store = observed(resilient(backend, sys.argv[1], retry=fast, sleep=lambda s: None,
                               fsync=False, breaker_clock=lambda: now[0]))
    store.set("templates:a", {"n": 1})
    assert store.get("templates:a") == {"n": 1}
    assert store.get("templates:gone") is None
    store.merge("templates:a", {"m": 2})
    backend.down = True  # the outage: retries, breaker, journal
    for n in range(10):
        store.set(f"templates:{n}", {"n": n})
        store.merge("templates:a", {"n": n})
        assert store.get(f"templates:{n}") == {"n": n}
    try:
        store.get("templates:a")  # only merged during the outage: not known whole
    except StoreUnavailable:
        pass
    backend.down = False  # recovery: the breaker half-opens, the journal replays
    now[0] += 60
    assert store.get("templates:a") == {"n": 9, "m": 2}
    assert store.purge("templates:") == 11
    assert store.sweep() == 0
    store.close()
    """
)


def test_an_app_that_configures_no_logging_sees_nothing(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", APP, str(tmp_path / "journal")],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert (result.stdout, result.stderr) == ("", "")


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_a_configured_stdlib_handler_receives_structured_events(tmp_path: Path) -> None:
    handler = Records()
    logger = logging.getLogger("sessionkit")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        store = observed(MemoryStore())
        store.set("templates:t1", {})
        store.get("templates:t1")
        backend = FlakyStore()
        fast = RetryPolicy(attempts=2, initial_wait=0, max_wait=0, jitter=0)
        stack = resilient(backend, tmp_path / "journal", retry=fast, sleep=lambda s: None,
                          fsync=False)  # fmt: skip
        backend.down = True
        stack.set("templates:t2", {"n": 1})
        stack.close()
    finally:
        logger.removeHandler(handler)
        logger.setLevel(logging.NOTSET)
    hit = next(r for r in handler.records if r.getMessage() == StoreEvent.HIT)
    assert hit.name == "sessionkit.store"
    assert hit.levelno == logging.DEBUG
    assert (hit.store, hit.namespace, hit.operation) == ("memory", "templates", "get")  # type: ignore[attr-defined]
    assert "t1" not in hit.key  # type: ignore[attr-defined]
    resilience = {r.getMessage(): r for r in handler.records if r.name == "sessionkit.resilience"}
    assert Event.RETRY_SCHEDULED in resilience
    assert resilience[Event.FALLBACK_ENGAGED].levelno == logging.WARNING
    store.close()
