"""Run benchmark pairs and report each as a ratio to its baseline.

Method: for each pair, the candidate (sessionkit) and the baseline (the raw client doing
the same work, serialization included) run alternately, ``rounds`` times each, in the same
process, against the same server and payload. Each round times ``ops`` calls. The report
gives the median time per call of each side and their ratio; alternating cancels most of
the drift (CPU frequency, a noisy neighbour) that separate runs would bake in.

    python -m benchmarks                 # every suite whose server is reachable
    python -m benchmarks --quick         # tiny N: checks the suite runs, measures nothing
    python -m benchmarks --json out.json
"""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import attrs

SUITES = ["benchmarks.memory"]


@attrs.frozen
class Pair:
    """One comparison: ``candidate`` and ``baseline`` each do one operation per call."""

    name: str
    candidate: Callable[[], object]
    baseline: Callable[[], object]
    baseline_name: str
    goal: float | None = None  # the ratio the candidate should stay at or under


@attrs.frozen
class Result:
    name: str
    baseline_name: str
    candidate_us: float
    baseline_us: float
    goal: float | None

    @property
    def ratio(self) -> float:
        return self.candidate_us / self.baseline_us

    @property
    def meets_goal(self) -> bool | None:
        return None if self.goal is None else self.ratio <= self.goal


def _time_per_call(fn: Callable[[], object], ops: int) -> float:
    start = time.perf_counter()
    for _ in range(ops):
        fn()
    return (time.perf_counter() - start) / ops


def measure(pair: Pair, *, rounds: int, ops: int) -> Result:
    """Alternate candidate and baseline ``rounds`` times; medians of per-call times."""
    _time_per_call(pair.candidate, max(1, ops // 10))  # warm up both sides
    _time_per_call(pair.baseline, max(1, ops // 10))
    candidate, baseline = [], []
    for _ in range(rounds):
        candidate.append(_time_per_call(pair.candidate, ops))
        baseline.append(_time_per_call(pair.baseline, ops))
    return Result(
        pair.name,
        pair.baseline_name,
        statistics.median(candidate) * 1e6,
        statistics.median(baseline) * 1e6,
        pair.goal,
    )


def format_table(results: Sequence[Result]) -> str:
    lines = [
        "| operation | sessionkit µs | baseline | baseline µs | ratio | goal |",
        "| --- | ---: | --- | ---: | ---: | --- |",
    ]
    for r in results:
        goal = "" if r.goal is None else f"≤ {r.goal:.2f} {'✓' if r.meets_goal else '✗'}"
        lines.append(
            f"| {r.name} | {r.candidate_us:.1f} | {r.baseline_name} | {r.baseline_us:.1f} "
            f"| {r.ratio:.2f} | {goal} |"
        )
    return "\n".join(lines)


def run(suites: Sequence[str], *, rounds: int, ops: int) -> Iterator[Result]:
    for name in suites:
        module = importlib.import_module(name)
        with module.pairs() as pairs:
            for pair in pairs:
                yield measure(pair, rounds=rounds, ops=ops)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny N: a smoke run")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--ops", type=int, default=2000)
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument("suites", nargs="*", default=SUITES)
    args = parser.parse_args(argv)
    rounds, ops = (2, 5) if args.quick else (args.rounds, args.ops)
    results = list(run(args.suites, rounds=rounds, ops=ops))
    print(format_table(results))
    if args.json:
        payload: dict[str, Any] = {
            "python": platform.python_version(),
            "machine": platform.machine(),
            "rounds": rounds,
            "ops": ops,
            "results": [{**attrs.asdict(r), "ratio": r.ratio} for r in results],
        }
        with open(args.json, "w") as out:
            json.dump(payload, out, indent=2)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
