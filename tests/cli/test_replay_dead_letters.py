"""``sessionkit replay JOURNAL show|retry|drop``: the records a replay set aside."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sessionkit import JSONCodec, open_store
from sessionkit.cli import EXIT_NOT_CONFIRMED, EXIT_NOT_FOUND, EXIT_OK, main
from sessionkit.resilience import WithFallback
from sessionkit.resilience.journal import read_dead_letters
from sessionkit.testing import FlakyStore


def set_aside(journal: Path) -> None:
    """Two records a primary with a 100-byte limit refused at replay."""
    backend = FlakyStore(codec=JSONCodec(max_payload_bytes=100))
    with WithFallback(backend, journal, fsync=False) as fallback:
        backend.down = True
        fallback.set("templates:big", {"blob": "x" * 300})
        fallback.set("templates:huge", {"blob": "y" * 300})
        backend.down = False
        assert fallback.replay().rejected == 2


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_show_lists_set_aside_records_without_a_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    journal = tmp_path / "sessions.journal"
    set_aside(journal)
    capsys.readouterr()
    code, out, err = run(["replay", str(journal), "show"], capsys)
    assert code == EXIT_OK, err
    lines = out.splitlines()
    assert len(lines) == 2
    assert "set templates:big" in lines[0]
    assert "PayloadTooLarge" in lines[0]
    code, out, _ = run(["replay", str(journal), "show", "--json"], capsys)
    shown = json.loads(out)
    assert [item["record"]["key"] for item in shown] == ["templates:big", "templates:huge"]


def test_retry_replays_them_and_drop_deletes_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = tmp_path / "sessions.journal"
    set_aside(journal)
    first, second = read_dead_letters(journal)
    url = f"sqlite:///{tmp_path / 'sessions.db'}"
    code, out, err = run(["replay", str(journal), "retry", first.id, "--url", url], capsys)
    assert code == EXIT_OK, err
    assert out.startswith("replayed 1 records")
    with open_store(url) as store:
        assert store.get("templates:big") == {"blob": "x" * 300}
    assert [letter.id for letter in read_dead_letters(journal)] == [second.id]
    code, _, err = run(["replay", str(journal), "retry", "nonesuch", "--url", url], capsys)
    assert code == EXIT_NOT_FOUND
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    code, _, err = run(["replay", str(journal), "drop", "--all"], capsys)
    assert code == EXIT_NOT_CONFIRMED  # no terminal, no --yes: nothing deleted
    assert len(read_dead_letters(journal)) == 1
    code, out, err = run(["replay", str(journal), "drop", second.id, "--yes"], capsys)
    assert code == EXIT_OK, err
    assert read_dead_letters(journal) == []
