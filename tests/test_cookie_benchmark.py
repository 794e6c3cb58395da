"""The wrk benchmark of cookie sessions: it skips cleanly without its tools, and writes only
its own section of docs/performance.md."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from benchmarks import cookies


def test_a_missing_tool_is_a_printed_skip(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert cookies.main(["--duration", "1", "--rounds", "1"]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "skipped benchmarks.cookies: wrk is not installed" in captured.err


def test_the_section_is_added_then_replaced_and_nothing_else_changes(tmp_path: Path) -> None:
    page = tmp_path / "performance.md"
    page.write_text("# Performance\n\nintro\n\n## Other\n\nkept\n")
    cookies.write_docs(f"{cookies.SECTION}\n\nfirst\n", page)
    assert (
        page.read_text()
        == f"# Performance\n\nintro\n\n## Other\n\nkept\n\n{cookies.SECTION}\n\nfirst\n"
    )
    page.write_text(page.read_text() + "\n## Later\n\nalso kept\n")
    cookies.write_docs(f"{cookies.SECTION}\n\nsecond\n", page)
    text = page.read_text()
    assert "first" not in text
    assert text.count(cookies.SECTION) == 1
    assert text.startswith("# Performance\n\nintro\n\n## Other\n\nkept\n")
    assert "second\n" in text
    assert text.endswith("## Later\n\nalso kept\n")
