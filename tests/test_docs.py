"""Every example in the docstrings and in docs/*.md runs, so none of them can rot."""

from __future__ import annotations

import doctest
import importlib
import pkgutil
from pathlib import Path

import pytest

import sessionkit

ROOT = Path(__file__).resolve().parent.parent
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE

MODULES = sorted(
    info.name
    for info in pkgutil.walk_packages(sessionkit.__path__, prefix="sessionkit.")
    # Optional integrations import their framework; they are tested where it is installed.
    # __main__ runs the CLI when imported.
    if ".integrations." not in info.name and not info.name.endswith("__main__")
)
DOC_PAGES = sorted(
    str(p.relative_to(ROOT)) for p in (ROOT / "docs").rglob("*.md") if ">>>" in p.read_text()
) + ["README.md"] * (">>>" in (ROOT / "README.md").read_text())


@pytest.mark.parametrize("name", ["sessionkit", *MODULES])
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    failed, _ = doctest.testmod(module, optionflags=FLAGS, report=True)
    assert failed == 0


@pytest.mark.parametrize("page", DOC_PAGES)
def test_docs_page_examples(page: str) -> None:
    failed, _ = doctest.testfile(
        str(ROOT / page), module_relative=False, optionflags=FLAGS, report=True
    )
    assert failed == 0


def test_readme_quickstart_runs(capsys: pytest.CaptureFixture[str]) -> None:
    text = (ROOT / "README.md").read_text()
    blocks = text.split("```python\n")[1:]
    assert blocks, "README.md has no python example"
    for block in blocks:
        exec(compile(block.split("```", 1)[0], "README.md", "exec"), {})
    assert "'status': 'confirmed'" in capsys.readouterr().out
