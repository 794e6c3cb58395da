"""Run benchmark pairs and report each as a ratio to its baseline.

Method: for each pair, the candidate (sessionkit) and the baseline (the raw client doing
the same work, serialization included) run alternately, ``rounds`` times each, in the same
process, against the same server and payload, each side going first in every other round.
Each round times ``ops`` calls (by default as many as fill about 0.05 s, found from the
warm-up). The report gives the median time per call of each side, their ratio and the
spread of the per-round ratios; alternating cancels most of the drift (CPU frequency, a
noisy neighbour) that separate runs would bake in.

Scaling suites (``SCALING_SUITES``) are not pairs: they time one maintenance operation
(sweep, purge) as the number of live sessions grows, and are reported as series.

A suite whose server does not answer is skipped with the reason printed: benchmarks are
not tests (the smoke test in tests/test_benchmarks.py decides what a skip means there).

    python -m benchmarks                 # every suite whose server is reachable
    python -m benchmarks --quick         # tiny N: checks the suites run, measures nothing
    python -m benchmarks --json out.json
    python -m benchmarks --write-docs    # also docs/performance.{json,md} and the plot
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import attrs

from benchmarks.core import (
    SKIPPED,
    Pair,
    Point,
    Result,
    SuiteSkipped,
    format_scaling,
    format_table,
    skip,
)

SUITES = [
    "benchmarks.memory",
    "benchmarks.redis",
    "benchmarks.sql",
    "benchmarks.resilience",
]
SCALING_SUITES = ["benchmarks.scaling"]

#: A round lasts about this long when ``ops`` is not given: short rounds, many of them, so
#: that a burst of load on a shared machine lands on both sides alike.
ROUND_SECONDS = 0.05
_MIN_OPS, _MAX_OPS = 10, 5000


def _time_per_call(fn: Callable[[], object], ops: int) -> float:
    start = time.perf_counter()
    for _ in range(ops):
        fn()
    return (time.perf_counter() - start) / ops


async def _async_time_per_call(fn: Callable[[], Awaitable[object]], ops: int) -> float:
    start = time.perf_counter()
    for _ in range(ops):
        await fn()
    return (time.perf_counter() - start) / ops


def _timer(pair: Pair) -> Callable[[Callable[[], Any], int], float]:
    loop = pair.loop
    if loop is None:
        return _time_per_call
    return lambda fn, ops: loop.run_until_complete(_async_time_per_call(fn, ops))


def measure(pair: Pair, *, rounds: int, ops: int | None) -> Result:
    """Alternate candidate and baseline ``rounds`` times; medians of per-call times."""
    timed = _timer(pair)
    warm_up = ops // 10 + 1 if ops is not None else _MIN_OPS
    slowest = max(timed(pair.candidate, warm_up), timed(pair.baseline, warm_up))
    if ops is None:
        ops = int(min(_MAX_OPS, max(_MIN_OPS, ROUND_SECONDS / slowest)))
    candidate: list[float] = []
    baseline: list[float] = []
    for round_ in range(rounds):
        # Who goes first alternates too, so that neither side always follows the other.
        if round_ % 2:
            baseline.append(timed(pair.baseline, ops))
            candidate.append(timed(pair.candidate, ops))
        else:
            candidate.append(timed(pair.candidate, ops))
            baseline.append(timed(pair.baseline, ops))
    per_round = sorted(c / b for c, b in zip(candidate, baseline, strict=True))
    quarter = len(per_round) // 4
    return Result(
        pair.name,
        pair.baseline_name,
        statistics.median(candidate) * 1e6,
        statistics.median(baseline) * 1e6,
        pair.goal,
        ops,
        (per_round[quarter], per_round[-1 - quarter]),
    )


def run(suites: Sequence[str], *, rounds: int, ops: int | None) -> Iterator[Result]:
    for name in suites:
        module = importlib.import_module(name)
        try:
            with module.pairs() as pairs:
                for pair in pairs:
                    yield measure(pair, rounds=rounds, ops=ops)
        except SuiteSkipped as reason:
            skip(name, str(reason))


def run_scaling(suites: Sequence[str], *, quick: bool) -> Iterator[Point]:
    for name in suites:
        module = importlib.import_module(name)
        try:
            yield from module.points(quick=quick)
        except SuiteSkipped as reason:
            skip(name, str(reason))


def machine() -> dict[str, Any]:
    """What the numbers were measured on, load included (other work skews them)."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            names = [line.split(":", 1)[1].strip() for line in info if "model name" in line]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "system": f"{platform.system()} {platform.release()}",
        "machine": platform.machine(),
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "load_average": None if load is None else [round(x, 2) for x in load],
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny N: a smoke run")
    parser.add_argument("--rounds", type=int, default=31)
    parser.add_argument(
        "--ops", type=int, help=f"calls per round (default: about {ROUND_SECONDS} s worth)"
    )
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument(
        "--write-docs",
        action="store_true",
        help="write docs/performance.json, the table in docs/performance.md and the plot",
    )
    parser.add_argument("--no-scaling", action="store_true", help="skip the scaling suites")
    parser.add_argument("suites", nargs="*", help="suite modules (default: all)")
    args = parser.parse_args(argv)
    rounds, ops = (2, 5) if args.quick else (args.rounds, args.ops)
    SKIPPED.clear()
    started = time.perf_counter()
    load_before = machine()["load_average"]
    pair_suites = [s for s in args.suites if s not in SCALING_SUITES] or (
        [] if args.suites else SUITES
    )
    scaling_suites = [s for s in args.suites if s in SCALING_SUITES] or (
        [] if args.suites or args.no_scaling else SCALING_SUITES
    )
    results = []
    for result in run(pair_suites, rounds=rounds, ops=ops):
        results.append(result)
        print(format_table([result]).splitlines()[-1], flush=True)
    points = []
    for point in run_scaling(scaling_suites, quick=args.quick):
        points.append(point)
        print(format_scaling([point]).splitlines()[-1], flush=True)
    print()
    print(format_table(results))
    if points:
        print()
        print(format_scaling(points))
    payload: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        **machine(),
        "load_average_before": load_before,
        "seconds": round(time.perf_counter() - started, 1),
        "rounds": rounds,
        "ops": ops,
        "quick": args.quick,
        "results": [{**attrs.asdict(r), "ratio": r.ratio} for r in results],
        "scaling": [attrs.asdict(p) for p in points],
        "skipped": [attrs.asdict(s) for s in SKIPPED],
    }
    if args.json:
        Path(args.json).write_text(json.dumps(payload, indent=2) + "\n")
    if args.write_docs and args.quick:
        print("a --quick run measures nothing: the docs are left as they are")
    elif args.write_docs:
        from benchmarks.report import write_docs  # noqa: PLC0415 (matplotlib only here)

        write_docs(payload)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
