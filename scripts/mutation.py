"""A small mutation check: plant a bug in a promise, the named tests must fail.

Each mutant is a search-and-replace on one source file (the async source and its sync
twin where both exist). The file is patched in place and restored in a ``finally``;
only the named tests run. Exit status 1 if any mutant survives (its tests pass).

    python scripts/mutation.py            # every mutant
    python scripts/mutation.py -k sweep   # those whose name contains "sweep"
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Mutant:
    name: str
    path: str
    search: str
    replace: str
    tests: tuple[str, ...]


MUTANTS = [
    Mutant(
        "memory sweep does nothing",
        "src/sessionkit/stores/_memory_state.py",
        "            while heap and heap[0][0] <= now:",
        "            while False:",
        ("tests/stores/memory/test_store.py::test_sweep_removes_exactly_the_expired_among_many_live",),
    ),
    Mutant(
        "fsync removed from a journal append",
        "src/sessionkit/resilience/journal.py",
        "            if self.fsync:\n                self.io.fsync(self._fd)\n"
        "        except OSError as error:",
        "            pass\n        except OSError as error:",
        (
            "tests/resilience/test_journal_durability.py"
            "::test_an_append_is_fsynced_before_the_call_returns",
        ),
    ),
    Mutant(
        "fsync removed from the cursor write",
        "src/sessionkit/resilience/journal.py",
        "            _pwrite_all(self.io.pwrite, fd, data, where)\n            if self.fsync:\n"
        "                self.io.fsync(fd)",
        "            _pwrite_all(self.io.pwrite, fd, data, where)",
        (
            "tests/resilience/test_journal_durability.py"
            "::test_each_cursor_move_is_fsynced_before_the_next_record_is_applied",
        ),
    ),
    Mutant(
        "tenant dropped from purge",
        "src/sessionkit/namespaces/_sync/namespace.py",
        "return self._store.purge(self._space.prefix)",
        # "@<tenant>:<namespace>:" becomes "<namespace>:", the default tenant's prefix
        'return self._store.purge(self._space.prefix.rpartition(":")[0].rpartition(":")[2] + ":")',
        ("tests/namespaces/test_isolation.py",),
    ),
    Mutant(
        "memory lock released while the update function runs",
        "src/sessionkit/stores/_memory_state.py",
        "            current = None if slot is None else self._decode(key, slot)\n"
        "            value, data = apply_update(",
        "            current = None if slot is None else self._decode(key, slot)\n"
        "        if True:  # the lock is released here: fn runs unprotected\n"
        "            value, data = apply_update(",
        ("tests/test_concurrency.py::test_threads_updating_one_key_lose_nothing[memory]",),
    ),
    Mutant(
        "SQL version check dropped (with the row lock off)",
        "src/sessionkit/stores/_sql/statements.py",
        "return sa.update(t).where(t.c.key == key, t.c.version == version).values(values)",
        "return sa.update(t).where(t.c.key == key).values(values)",
        (
            "tests/stores/sql/test_atomicity.py"
            "::test_without_the_row_lock_the_version_check_keeps_a_concurrent_update",
        ),
    ),
    Mutant(
        "SQL sweep DELETE without the expiry re-check",
        "src/sessionkit/stores/_sql/statements.py",
        "return sa.delete(t).where(t.c.key.in_(keys), _expired(t, now))",
        "return sa.delete(t).where(t.c.key.in_(keys))",
        (
            "tests/stores/sql/test_atomicity.py"
            "::test_a_row_renewed_between_the_sweeps_select_and_delete_survives",
        ),
    ),
    Mutant(
        "memory sweep DELETE without the expiry re-check",
        "src/sessionkit/stores/_memory_state.py",
        "if slot is not None and slot.expires_at == expires_at:",
        "if slot is not None:",
        (
            "tests/contract/_sync/test_contract.py::TestBuiltinStores"
            "::test_sweep_keeps_entries_renewed_before_they_were_due[memory]",
        ),
    ),
]


def run(mutant: Mutant) -> bool:
    """True if the mutant was killed (a named test failed)."""
    path = ROOT / mutant.path
    original = path.read_text()
    if original.count(mutant.search) != 1:
        print(f"STALE  {mutant.name}: the search text is not in {mutant.path} once")
        return False
    try:
        path.write_text(original.replace(mutant.search, mutant.replace))
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
        command = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:randomly", *mutant.tests]
        result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, check=False)
    finally:
        path.write_text(original)
    killed = result.returncode != 0
    print(f"{'killed' if killed else 'SURVIVED'}  {mutant.name}")
    return killed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-k", default="", help="only mutants whose name contains this")
    args = parser.parse_args()
    chosen = [mutant for mutant in MUTANTS if args.k in mutant.name]
    survivors = [mutant.name for mutant in chosen if not run(mutant)]
    print(f"{len(chosen) - len(survivors)} of {len(chosen)} mutants killed")
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main())
