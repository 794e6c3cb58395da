"""A backend outside the project tests itself with sessionkit.testing, the Django way:
a plain pytest run in a directory of its own, with no sessionkit conftest."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

TEST_FILE = textwrap.dedent(
    """
    from sessionkit import AsyncMemoryStore, MemoryStore, open_store
    from sessionkit.testing import AsyncStoreContract, StoreContract


    class ForgetfulStore(MemoryStore):
        def delete(self, key):
            return self.exists(key)  # says it deleted, deletes nothing


    class TestMemory(StoreContract):
        def make_store(self, **options):
            return {factory}


    class TestAsyncMemory(AsyncStoreContract):
        async def make_store(self, **options):
            return AsyncMemoryStore(**options)


    class TestNoOptions(StoreContract):
        def make_store(self):  # the simplest form: real time, no default-TTL test
            options = {{}}
            return {factory}
    """
)


def run_pytest(tmp_path: Path, factory: str) -> subprocess.CompletedProcess[str]:
    project = tmp_path / "third_party"
    project.mkdir()
    (project / "test_my_store.py").write_text(TEST_FILE.format(factory=factory))
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", project],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_a_store_that_keeps_the_contract_passes(tmp_path: Path) -> None:
    result = run_pytest(tmp_path, 'open_store("memory://", **options)')
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert " passed" in result.stdout
    assert "skipped" in result.stdout  # TestNoOptions: no default_ttl to try
    assert "failed" not in result.stdout


def test_a_store_whose_delete_does_not_delete_fails(tmp_path: Path) -> None:
    result = run_pytest(tmp_path, "ForgetfulStore(**options)")
    assert result.returncode == 1, result.stdout[-3000:]
    assert "TestMemory::test_delete" in result.stdout
    assert "TestAsyncMemory" not in result.stdout.split("short test summary")[-1]
