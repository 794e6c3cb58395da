"""A smoke run of every benchmark suite with tiny N, so that none can rot (no timing checked).

A suite whose server is missing is skipped by the runner; here that skips the test on a
laptop and fails it under CI=true, like tests that need a server (tests/servers.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from benchmarks.runner import SCALING_SUITES, SUITES, main

from tests.servers import IN_CI


def _quick_run(tmp_path: Path, suite: str) -> dict[str, Any]:
    out = tmp_path / "results.json"
    assert main(["--quick", "--json", str(out), suite]) == 0
    payload: dict[str, Any] = json.loads(out.read_text())
    return payload


def _skip_or_fail_for(payload: dict[str, Any]) -> None:
    """What a skipped (part of a) suite means: fine locally, a failure in CI."""
    if payload["skipped"]:
        reasons = "; ".join(f"{s['suite']}: {s['reason']}" for s in payload["skipped"])
        if IN_CI:
            pytest.fail(f"{reasons}, and CI=true: a benchmark must not skip", pytrace=False)
        pytest.skip(reasons)


@pytest.mark.parametrize("suite", SUITES)
def test_each_suite_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str], suite: str) -> None:
    payload = _quick_run(tmp_path, suite)
    results = payload["results"]
    names = [r["name"] for r in results]
    assert len(names) == len(set(names)), "two pairs share a name"
    assert all(r["candidate_us"] > 0 and r["baseline_us"] > 0 for r in results)
    table = capsys.readouterr().out
    assert all(f"| {name} |" in table for name in names)
    assert payload["load_average"] is None or len(payload["load_average"]) == 3
    _skip_or_fail_for(payload)
    assert results, f"{suite} measured nothing"


def test_the_memory_suite_measures_the_basic_operations(tmp_path: Path) -> None:
    names = {r["name"] for r in _quick_run(tmp_path, "benchmarks.memory")["results"]}
    assert names >= {"memory get", "memory set", "memory merge"}


def test_the_redis_suite_covers_the_issue(tmp_path: Path) -> None:
    payload = _quick_run(tmp_path, "benchmarks.redis")
    _skip_or_fail_for(payload)
    names = {r["name"] for r in payload["results"]}
    for flavour in ("redis", "redis async"):
        for operation in ("get", "set", "merge", "update(fn)", "get_many(100)", "set_many(100)"):
            assert f"{flavour} {operation}" in names
    assert "redis async merge (vs aiogram)" in names


@pytest.mark.parametrize("suite", SCALING_SUITES)
def test_each_scaling_suite_runs(tmp_path: Path, suite: str) -> None:
    payload = _quick_run(tmp_path, suite)
    points = payload["scaling"]
    assert {"memory sweep", "memory purge", "sqlite sweep", "sqlite purge"} <= {
        p["series"] for p in points
    }
    assert all(p["seconds"] >= 0 and p["affected"] > 0 for p in points)
    _skip_or_fail_for(payload)


def test_the_replay_benchmark_runs(capsys: pytest.CaptureFixture[str]) -> None:
    from benchmarks.replay import main as replay_main  # noqa: PLC0415

    assert replay_main(["--quick"]) == 0
    out, err = capsys.readouterr()
    if "skipped benchmarks.replay" in err:
        if IN_CI:
            pytest.fail(err, pytrace=False)
        pytest.skip(err)
    assert "| replay redis: first get after recovery | 100 | 0 |" in out
    assert "| replay redis: until the journal is empty | 100 | 100 |" in out


def test_a_missing_server_is_a_printed_skip(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setattr("benchmarks.redis.server_answers", lambda host, port, timeout=0.5: False)
    payload = _quick_run(tmp_path, "benchmarks.redis")
    assert payload["results"] == []
    assert [s["suite"] for s in payload["skipped"]] == ["benchmarks.redis"]
    assert "skipped benchmarks.redis: Redis is not running" in capsys.readouterr().err


def test_the_docs_are_written_between_the_markers(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib", reason="the plot needs the bench extra (matplotlib)")
    from benchmarks.report import BEGIN, END, PLOT, write_docs  # noqa: PLC0415

    payload = _quick_run(tmp_path, "benchmarks.memory")
    payload["scaling"] = _quick_run(tmp_path, "benchmarks.scaling")["scaling"]
    (tmp_path / "performance.md").write_text(
        f"# Performance\n\nprose\n\n{BEGIN}\nold\n{END}\n\nmore\n"
    )
    write_docs(payload, docs=tmp_path)
    page = (tmp_path / "performance.md").read_text()
    assert page.startswith("# Performance\n\nprose\n\n")
    assert page.endswith(f"{END}\n\nmore\n")
    assert "old" not in page
    assert "| memory get |" in page
    assert f"]({PLOT})" in page
    assert (tmp_path / PLOT).read_bytes().startswith(b"\x89PNG")
    assert json.loads((tmp_path / "performance.json").read_text())["results"]
