"""A plain ``pip install sessionkit`` (the built wheel, no extras) runs the embedded default.

One fresh virtualenv for the whole module (the wheel is built once, then installed with
pip, which resolves the core dependencies from its cache or the index): the demo runs on
sync SQLite twice, the Alembic ``metadata`` imports without greenlet, and only opening an
async SQL store reports what is missing, in one sentence.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


class PlainInstall:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.bin = root / "venv" / "bin"
        self.workdir = root / "work"
        self.workdir.mkdir()

    def run(self, *command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
        result = subprocess.run(
            command,
            check=False,
            cwd=self.workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if check:
            assert result.returncode == 0, (command, result.stdout, result.stderr)
        return result

    def python(self, code: str) -> str:
        return self.run(str(self.bin / "python"), "-c", code).stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q", "-w", str(out)],
        check=True,
        capture_output=True,
        timeout=180,
    )
    (built,) = out.glob("sessionkit-*.whl")
    return built


@pytest.fixture(scope="module")
def plain(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> PlainInstall:
    install = PlainInstall(tmp_path_factory.mktemp("plain-install"))
    venv.create(install.root / "venv", with_pip=True)
    install.run(
        str(install.bin / "python"),
        "-m",
        "pip",
        "install",
        "-q",
        "--disable-pip-version-check",
        str(wheel),
    )
    return install


def test_the_wheel_ships_the_lua_scripts(wheel: Path, plain: PlainInstall) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    shipped = {Path(n).name for n in names if n.startswith("sessionkit/stores/_redis/lua/")}
    scripts = {"set", "cas", "merge", "get_entry", "persist_if_exists", "delete", "apply_if_newer"}
    included = {"envelope", "merge_fields"}  # prepended to the scripts that need them
    assert shipped == {f"{name}.lua" for name in scripts | included}
    out = plain.python(
        "from sessionkit.stores._redis.scripts import SCRIPTS; print(sorted(SCRIPTS))"
    )
    assert out.strip() == str(sorted(scripts))


def test_the_demo_runs_twice_and_finds_the_first_runs_sessions(plain: PlainInstall) -> None:
    first = plain.run(str(plain.bin / "sessionkit"), "demo")
    assert "demo runs recorded in this store: 1" in first.stdout
    assert "sessions now stored: templates 1," in first.stdout
    second = plain.run(str(plain.bin / "sessionkit"), "demo")
    assert "demo runs recorded in this store: 2" in second.stdout
    assert "sessions now stored: templates 2," in second.stdout


def test_the_alembic_metadata_imports_without_anything_async(plain: PlainInstall) -> None:
    out = plain.python(
        "import sys\n"
        "from sessionkit.stores.sql import SQLStore, metadata\n"
        "print(sorted(metadata.tables))\n"
        "asynchronous = ('greenlet', 'aiosqlite', 'sqlalchemy.ext.asyncio')\n"
        "print([m for m in asynchronous if m in sys.modules])"
    )
    assert out.splitlines() == ["['sessionkit_sessions', 'sessionkit_sessions_tombstones']", "[]"]


def test_an_async_sqlite_store_names_the_extra_in_one_sentence(plain: PlainInstall) -> None:
    installed = plain.python(
        "import importlib.metadata as m; print([d.name for d in m.distributions()])"
    )
    if "greenlet" in installed:
        pytest.skip("this SQLAlchemy brought greenlet with it: nothing is missing")
    out = plain.python(
        "import sessionkit\n"
        "from sessionkit.stores.sql import AsyncSQLStore\n"
        "for open_it in (sessionkit.open_async_store, AsyncSQLStore):\n"
        "    try:\n"
        "        open_it('sqlite:///async.db')\n"
        "    except sessionkit.ConfigurationError as error:\n"
        "        print(error)\n"
    )
    expected = "sqlite+aiosqlite:// needs greenlet and aiosqlite: pip install 'sessionkit[sqlite]'"
    assert out.splitlines() == [expected, expected]
    assert not (plain.workdir / "async.db").exists()
