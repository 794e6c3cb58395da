"""What the benchmark suites, the runner and the report share: pairs, results, skips.

The suites and the report import this module, never the runner, so the runner can import
the suites (by name) and the report without an import circle.
"""

from __future__ import annotations

import asyncio
import socket
import sys
from collections.abc import Callable, Sequence
from typing import Any

import attrs


class SuiteSkipped(Exception):
    """Raised by a suite (before it yields) whose server or package is missing."""


@attrs.frozen
class Skip:
    suite: str
    reason: str


#: What was skipped in this process, in order (``skip`` adds to it, ``main`` reports it).
SKIPPED: list[Skip] = []


def skip(suite: str, reason: str) -> None:
    """Record and print that (part of) a suite did not run, and why."""
    SKIPPED.append(Skip(suite, reason))
    print(f"skipped {suite}: {reason}", file=sys.stderr)


def server_answers(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


@attrs.frozen
class Pair:
    """One comparison: ``candidate`` and ``baseline`` each do one operation per call.

    With ``loop`` set, both are coroutine functions, awaited in a loop on that event loop
    (the one the suite opened its async clients on).
    """

    name: str
    candidate: Callable[[], Any]
    baseline: Callable[[], Any]
    baseline_name: str
    goal: float | None = None  # the ratio the candidate should stay at or under
    loop: asyncio.AbstractEventLoop | None = None


@attrs.frozen
class Result:
    name: str
    baseline_name: str
    candidate_us: float
    baseline_us: float
    goal: float | None
    ops: int = 0
    # The middle half of the per-round ratios: how much the load moved the ratio.
    spread: tuple[float, float] | None = None

    @property
    def ratio(self) -> float:
        return self.candidate_us / self.baseline_us

    @property
    def meets_goal(self) -> bool | None:
        return None if self.goal is None else self.ratio <= self.goal


@attrs.frozen
class Point:
    """One measurement of a scaling suite: ``seconds`` for one operation at ``live``."""

    series: str  # e.g. "memory sweep"
    live: int  # sessions that stay
    affected: int  # sessions the operation removes (expired ones, or the purged prefix)
    seconds: float


def format_table(results: Sequence[Result]) -> str:
    lines = [
        "| operation | sessionkit µs | baseline | baseline µs | ratio | spread | goal |",
        "| --- | ---: | --- | ---: | ---: | ---: | --- |",
    ]
    for r in results:
        goal = "" if r.goal is None else f"≤ {r.goal:.2f} {'✓' if r.meets_goal else '✗'}"
        spread = "" if r.spread is None else f"{r.spread[0]:.2f}-{r.spread[1]:.2f}"
        lines.append(
            f"| {r.name} | {r.candidate_us:.1f} | {r.baseline_name} | {r.baseline_us:.1f} "
            f"| {r.ratio:.2f} | {spread} | {goal} |"
        )
    return "\n".join(lines)


def format_scaling(points: Sequence[Point]) -> str:
    lines = [
        "| operation | live sessions | removed | ms |",
        "| --- | ---: | ---: | ---: |",
    ]
    lines += [
        f"| {p.series} | {p.live:,} | {p.affected:,} | {p.seconds * 1000:.2f} |" for p in points
    ]
    return "\n".join(lines)
