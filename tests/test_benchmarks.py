"""A smoke run of the benchmark suite with tiny N, so that it cannot rot (no timing checked)."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.runner import main


def test_the_benchmark_suite_runs(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "results.json"
    assert main(["--quick", "--json", str(out)]) == 0
    results = json.loads(out.read_text())["results"]
    assert {r["name"] for r in results} >= {"memory get", "memory set", "memory merge"}
    assert all(r["candidate_us"] > 0 and r["baseline_us"] > 0 for r in results)
    assert "| memory get |" in capsys.readouterr().out
