"""The documentation site builds with ``mkdocs build --strict`` (no warning, no broken link)
and reads as written: no Sphinx role left literal, no doctest rendered as a blockquote."""

from __future__ import annotations

import importlib.util
import os
import re
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


needs_toolchain = pytest.mark.skipif(
    bool(MISSING),
    reason=f"the docs toolchain is not installed ({', '.join(MISSING)}): "
    "pip install -e '.[docs]' (the dev extra has it)",
)

#: Sphinx roles mkdocstrings does not render: they would show as literal text.
ROLE = re.compile(r":(?:class|meth|func|attr|data|exc|mod|obj|ref):(?=[\s`]|$)")
#: Code blocks and code spans: whatever is in them is shown as code, on purpose.
CODE = re.compile(r"<(pre|code)\b.*?</\1>", re.DOTALL)
TAG = re.compile(r"<[^>]+>")


def prose(html: str) -> str:
    """The text a reader sees outside code blocks and code spans."""
    return TAG.sub(" ", CODE.sub(" ", html))


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "WARNING" not in result.stderr
    return out


@needs_toolchain
def test_the_site_builds_strictly(site: Path) -> None:
    for page in ("operations", "reference", "resilience", "install", "troubleshooting"):
        assert (site / page / "index.html").is_file()
    assert "sessionkit_breaker_state" in (site / "operations" / "index.html").read_text()


@needs_toolchain
def test_no_page_shows_a_literal_role_or_an_unfenced_doctest(site: Path) -> None:
    problems = []
    for page in sorted(site.rglob("*.html")):
        html = page.read_text()
        text = prose(html)
        name = str(page.relative_to(site))
        problems += [f"{name}: literal {m.group(0)}" for m in ROLE.finditer(text)]
        # ">>> x" outside a fence renders as three nested blockquotes around "x".
        nested = re.search(r"<blockquote>\s*<blockquote>", CODE.sub(" ", html))
        if nested or "&gt;&gt;&gt;" in text:
            problems.append(f"{name}: a doctest outside a code block")
    assert not problems, "\n".join(problems[:40])


@needs_toolchain
def test_the_home_page_links_every_page(site: Path) -> None:
    home = (site / "index.html").read_text()
    body = home.split('class="md-content"', 1)[1]
    pages = sorted(
        str(p.relative_to(ROOT / "docs").with_suffix(""))
        for p in (ROOT / "docs").rglob("*.md")
        if p.name != "index.md"
    )
    missing = [page for page in pages if f'href="{page}/"' not in body]
    assert not missing, missing
