from __future__ import annotations

import subprocess
import sys

import pytest

from sessionkit.cli import main
from sessionkit.presets.demo import run_demo


def test_demo_runs_the_workflow_and_reports_what_it_stored(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["demo", "--url", "memory://"]) == 0
    out = capsys.readouterr().out
    for step in ("1. template uploaded", "2. template confirmed", "5. fields extracted"):
        assert step in out
    assert '"status": "confirmed"' in out
    assert "cancellations 0" in out  # the withdrawn cancellation is gone


def test_demo_counts_sessions_per_kind() -> None:
    lines: list[str] = []
    counts = run_demo("memory://", echo=lines.append)
    assert counts == {
        "templates": 1,
        "documents": 1,
        "extractions": 1,
        "cancellations": 0,
        "generated": 1,
    }


def test_a_bad_url_exits_1_with_a_message(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--url", "nope://x"]) == 1
    assert "no store for URL scheme 'nope'" in capsys.readouterr().err


def test_the_console_entry_point_runs() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sessionkit", "demo", "--url", "memory://"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "sessions now stored" in result.stdout


def test_no_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main([])
    assert exited.value.code == 2
