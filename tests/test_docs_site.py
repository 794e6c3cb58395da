"""The documentation site builds with ``mkdocs build --strict``: no warning, no broken link."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _missing(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is None
    except ModuleNotFoundError:  # its parent package is missing
        return True


MISSING = [
    module
    for module in ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers.python")
    if _missing(module)
]


@pytest.mark.skipif(
    bool(MISSING),
    reason=f"the docs toolchain is not installed ({', '.join(MISSING)}): "
    "pip install -e '.[docs]' (the dev extra has it)",
)
def test_the_site_builds_strictly(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "WARNING" not in result.stderr
    for page in ("operations", "reference", "resilience"):
        assert (tmp_path / page / "index.html").is_file()
    assert "sessionkit_breaker_state" in (tmp_path / "operations" / "index.html").read_text()
