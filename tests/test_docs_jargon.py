"""User-facing text speaks of the user's problem, never of this project's own planning
documents ("seed 000", "the hardening plan") or of test ids cited as evidence."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from sessionkit.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
JARGON = re.compile(r"\bseeds?\b(?! *=)|hardening plan|tests/[\w/]+\.py::", re.IGNORECASE)


def docstrings(path: Path) -> Iterator[tuple[int, str]]:
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            text = ast.get_docstring(node, clean=False)
            if text:
                yield getattr(node, "lineno", 1), text


def comments_and_docstrings(path: Path) -> Iterator[tuple[int, str]]:
    yield from docstrings(path)
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if "#" in line:
            yield number, line[line.index("#") :]


def user_facing_text() -> Iterator[tuple[str, str]]:
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        for number, line in enumerate(page.read_text().splitlines(), 1):
            yield f"{page.relative_to(ROOT)}:{number}", line
    for source in sorted((ROOT / "src").rglob("*.py")):
        for number, text in docstrings(source):
            yield f"{source.relative_to(ROOT)}:{number}", text
    for example in sorted((ROOT / "examples").rglob("*.py")):
        for number, text in comments_and_docstrings(example):
            yield f"{example.relative_to(ROOT)}:{number}", text


def help_texts() -> Iterator[tuple[str, str]]:
    parser = build_parser()
    yield "sessionkit --help", parser.format_help()
    for action in parser._subparsers._group_actions if parser._subparsers else []:
        for name, command in getattr(action, "choices", {}).items():
            yield f"sessionkit {name} --help", command.format_help()


@pytest.mark.parametrize("source", ["files", "cli"])
def test_no_internal_jargon(source: str) -> None:
    texts = user_facing_text() if source == "files" else help_texts()
    found = [
        f"{where}: {match.group(0)!r}" for where, text in texts for match in JARGON.finditer(text)
    ]
    assert not found, "\n".join(found)
