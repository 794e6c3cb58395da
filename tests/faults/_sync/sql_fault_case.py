# Generated from tests/faults/_async/sql_fault_case.py by scripts/unasync.py: edit that file, not this one.
"""One case of the SQL fault matrix (tests/faults/test_sql_faults.py), sync and async.

The case's store sits behind a `FaultProxy`; it warms a pooled connection up (or, in the
``connect`` phase, opens nothing yet), switches the fault on and checks that ``get``
raises `StoreUnavailable` (bare) or is answered by the journal (``resilient()``) within
the bound plus a small slack. Then the fault lifts and the store answers correctly again.
Returns what failed, or None.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

from sessionkit import StoreUnavailable
from sessionkit.resilience import RetryPolicy, resilient
from sessionkit.stores.sql import SQLStore
from tests.faultproxy import Fault, FaultProxy

TIMEOUT = 1.0
# What the machine may add on top of a bound: scheduling on 2 busy cores, thread start-up.
SLACK = 0.75
# A short policy keeps the matrix fast; the bound below is the documented formula.
POLICY = RetryPolicy(attempts=2, initial_wait=0.1, max_wait=0.1, jitter=0.05, max_delay=5)
SLOW_DELAY = 3 * TIMEOUT  # every reply chunk held past the deadline


def resilient_bound(policy: RetryPolicy, timeout: float) -> float:
    """docs/resilience.md: attempts x deadline + the waits between them (each at most
    ``min(initial_wait * 2**i, max_wait) + jitter``)."""
    waits = sum(
        min(policy.initial_wait * 2**i, policy.max_wait) + policy.jitter
        for i in range(policy.attempts - 1)
    )
    return policy.attempts * timeout + waits


def _case_name(fault: Fault, phase: str, wrapped: bool) -> str:
    return f"{fault.value}/{phase}/{'resilient' if wrapped else 'bare'}"


def _check(name: str, elapsed: float, bound: float, failures: list[str]) -> None:
    if elapsed > bound + SLACK:
        failures.append(f"{name}: {elapsed:.2f} s, over the bound {bound:.2f} s + {SLACK} s")


def run_case(
    url: str, server: tuple[str, str, int], table: str, tmp: Path, case: tuple[Fault, str, bool]
) -> str | None:
    fault, phase, wrapped = case
    name = _case_name(*case)
    failures: list[str] = []
    with FaultProxy(server[1:], delay=SLOW_DELAY) as proxy:  # type: ignore[arg-type]
        bare = SQLStore(
            url.format(port=proxy.port), table_name=table, timeout=TIMEOUT, auto_create_schema=False
        )
        journal = tmp / f"{uuid.uuid4().hex}.journal"
        store: Any = resilient(bare, journal, retry=POLICY) if wrapped else bare
        try:
            if phase == "pooled":
                store.set("k", {"n": 1})
            proxy.set(fault)
            started = time.monotonic()
            try:
                store.get("k")
            except StoreUnavailable:
                pass
            else:
                failures.append(f"{name}: get answered through {fault.value}")
            bound = resilient_bound(POLICY, TIMEOUT) if wrapped else TIMEOUT
            _check(name, time.monotonic() - started, bound, failures)
            if wrapped:
                started = time.monotonic()
                store.set("j", {"journaled": True})
                _check(f"{name} set", time.monotonic() - started, bound, failures)
            proxy.set(Fault.FORWARD)
            if phase == "pooled" and not wrapped:
                bare.set("other", {"n": 2})
                got = (bare.get("k"), bare.get("other"))
                if got != ({"n": 1}, {"n": 2}):
                    failures.append(f"{name}: after the fault the store read {got}")
            if wrapped and store.get("j") != {"journaled": True}:
                failures.append(f"{name}: the journaled write did not reach the table")
        except Exception as error:
            failures.append(f"{name}: {type(error).__name__}: {error}")
        finally:
            proxy.set(Fault.FORWARD)
            store.close()
    return "; ".join(failures) or None
