"""Every backend the contract suite runs against, one module per backend family.

A backend family module defines ``SPECS: list[BackendSpec]``. To add a backend, add a
module here and list it in ``_FAMILIES``: the contract suite, the state machine and the
concurrency tests pick it up unchanged.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import attrs

from tests.servers import require_server


@attrs.frozen
class BackendSpec:
    """How to open one backend for one test."""

    name: str
    #: The URL to open, made fresh per test (a new SQLite file, say). The second
    #: argument is a token unique to the test, for per-test isolation.
    url: Callable[[Any], str]
    #: Options for ``open_store``/``open_async_store`` (the harness adds ``clock`` when
    #: ``fake_clock`` is true).
    options: Callable[[str], dict[str, Any]] = lambda token: {}
    #: (service name, host, port) this backend needs, or None.
    server: tuple[str, str, int] | None = None
    #: Whether the store takes its time from the injected clock. False for stores whose
    #: server keeps time (Redis): the harness then waits real time, so TTL tests use
    #: fractions of a second.
    fake_clock: bool = True
    #: False for backends that cannot share state across processes (memory).
    multiprocess: bool = True
    #: True if ``sweep()`` reclaims expired entries and returns how many (memory, SQL);
    #: False where the backend expires them natively and ``sweep()`` is a no-op returning 0
    #: (Redis). The contract suite asserts the exact count from this.
    sweeps: bool = True
    #: A resilience wrapper the harness puts around the store ("retrying", "breaker",
    #: "fallback" or "resilient" for the whole stack), or None for the bare store.
    wrap: str | None = None

    def require(self) -> None:
        if self.server is not None:
            require_server(*self.server)


_FAMILIES = ["memory", "redis", "sql"]


def all_specs() -> list[BackendSpec]:
    specs: list[BackendSpec] = []
    for family in _FAMILIES:
        specs.extend(importlib.import_module(f"tests.backends.{family}").SPECS)
    return specs


SPECS = {spec.name: spec for spec in all_specs()}


#: The resilience wrappers over bare backends, for the contract suite only (other suites
#: iterate SPECS): each wrapper over memory, and the whole stack over memory, SQLite and
#: Redis; the observability wrapper over memory and SQLite. A base backend that is not in
#: SPECS is left out.
_WRAPPINGS = [
    ("memory", "retrying"),
    ("memory", "breaker"),
    ("memory", "fallback"),
    ("memory", "resilient"),
    ("sqlite", "resilient"),
    ("redis", "resilient"),
    ("memory", "observed"),
    ("sqlite", "observed"),
]
WRAPPED_SPECS = {
    f"{base}+{wrap}": attrs.evolve(SPECS[base], name=f"{base}+{wrap}", wrap=wrap)
    for base, wrap in _WRAPPINGS
    if base in SPECS
}
