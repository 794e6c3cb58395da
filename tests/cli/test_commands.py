"""Every ``sessionkit`` command against SQLite and Redis, as a script would run it.

Store options reach the CLI as ``-o NAME=VALUE``: each test gets its own SQLite file and
table, or its own Redis key prefix on the shared server (purged at teardown, nothing
else touched).
"""

from __future__ import annotations

import io
import json
import os
import select
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
import structlog

from sessionkit import (
    FakeClock,
    SessionManager,
    open_store,
)
from sessionkit.cli import (
    EXIT_NOT_CONFIRMED,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_UNAVAILABLE,
    main,
)
from sessionkit.presets import (
    DocumentApp,
    DocumentSession,
    TemplateSession,
)
from sessionkit.resilience import WithFallback
from sessionkit.testing import FlakyStore
from tests.backends import SPECS, BackendSpec
from tests.redis_servers import free_port

ROOT = Path(__file__).resolve().parents[2]
BACKENDS = [name for name in ("sqlite", "redis") if name in SPECS]


@attrs.frozen
class Target:
    """One store for one test, and the CLI arguments that open it."""

    url: str
    options: dict[str, Any]

    @property
    def args(self) -> list[str]:
        return ["--url", self.url, *(f"-o{name}={value}" for name, value in self.options.items())]

    def manager(self, **options: Any) -> SessionManager:
        return SessionManager.from_url(self.url, sweep_interval=None, **self.options, **options)


@pytest.fixture(params=BACKENDS)
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    spec: BackendSpec = SPECS[request.param]
    spec.require()
    made = Target(spec.url(tmp_path), spec.options(uuid.uuid4().hex[:12]))
    yield made
    with open_store(made.url, **made.options) as store:
        store.purge("")  # this test's table or key prefix only


@pytest.fixture
def populated(target: Target) -> Target:
    """3 templates and 1 document in the default tenant, 2 templates of tenant acme."""
    with target.manager() as sessions:
        for i in range(3):
            DocumentApp(sessions).templates.put(f"t{i}", TemplateSession(filename=f"{i}.docx"))
        DocumentApp(sessions).documents.put("d1", DocumentSession())
        acme = sessions.for_tenant("acme")
        DocumentApp(acme).templates.put("t1", TemplateSession(filename="acme.docx"))
        DocumentApp(acme).templates.put("t2", TemplateSession())
    return target


@pytest.fixture(autouse=True)
def unconfigured_structlog() -> Iterator[None]:
    """structlog as a fresh ``sessionkit`` process finds it: not configured.

    (``capture_logs`` in other tests leaves structlog marked as configured, and the command
    line leaves an existing configuration alone, as it must when embedded in an app.)
    """
    structlog.reset_defaults()
    yield
    structlog.reset_defaults()


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def no_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """stdin as a script or cron job has it: not a terminal."""
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))


# -- stats ------------------------------------------------------------------------------


def test_stats_json_counts_per_tenant_and_namespace(
    populated: Target, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(["stats", *populated.args, "--json"], capsys)
    assert code == EXIT_OK, err
    assert json.loads(out) == {
        "total": 6,
        "other": 0,
        "namespaces": {"documents": 1, "templates": 5},
        "counts": [
            {"tenant": None, "namespace": "documents", "sessions": 1},
            {"tenant": None, "namespace": "templates", "sessions": 3},
            {"tenant": "acme", "namespace": "templates", "sessions": 2},
        ],
    }


def test_stats_prints_a_table(populated: Target, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["stats", *populated.args], capsys)
    assert code == EXIT_OK
    rows = [line.split() for line in out.splitlines()]
    assert rows == [
        ["TENANT", "NAMESPACE", "SESSIONS"],
        ["(default)", "documents", "1"],
        ["(default)", "templates", "3"],
        ["acme", "templates", "2"],
        ["total", "6"],
    ]


# -- purge ------------------------------------------------------------------------------


@pytest.mark.usefixtures("no_terminal")
def test_purge_refuses_without_a_terminal_or_yes_and_deletes_nothing(
    populated: Target, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(["purge", *populated.args, "--namespace", "templates"], capsys)
    assert code == EXIT_NOT_CONFIRMED
    assert out == ""
    assert "refusing to delete 5 sessions" in err
    assert "--yes" in err
    with populated.manager() as sessions:
        assert sessions.stats().total == 6


@pytest.mark.usefixtures("no_terminal")
def test_purge_with_yes_deletes_a_namespace_in_every_tenant(
    populated: Target, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(["purge", *populated.args, "--namespace", "templates", "--yes"], capsys)
    assert code == EXIT_OK, err
    assert out.startswith("purged 5 sessions")
    assert err == ""  # no progress output when stderr is not a terminal
    with populated.manager() as sessions:
        assert sessions.stats().by_namespace() == {"documents": 1}


@pytest.mark.usefixtures("no_terminal")
def test_purge_of_one_tenant_leaves_the_others(
    populated: Target, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(["purge", *populated.args, "--tenant", "acme", "-y"], capsys)
    assert code == EXIT_OK
    assert out.startswith("purged 2 sessions")
    with populated.manager() as sessions:
        assert sessions.stats().total == 4
        assert sessions.for_tenant("acme").stats().total == 0


@pytest.mark.usefixtures("no_terminal")
def test_purge_asks_about_and_deletes_only_namespace_sessions(
    populated: Target, capsys: pytest.CaptureFixture[str]
) -> None:
    # Tried: --all with an integration's key ("~websession:...") and a key no namespace
    # wrote in the store: neither is counted in the question nor deleted.
    with open_store(populated.url, **populated.options) as store:
        store.set("~websession:abc", {"user": "ana"})
        store.set("plain-key", {"x": 1})
    code, _, err = run(["purge", *populated.args, "--all"], capsys)
    assert code == EXIT_NOT_CONFIRMED
    assert "refusing to delete 6 sessions" in err
    code, out, _ = run(["purge", *populated.args, "--all", "--yes"], capsys)
    assert code == EXIT_OK
    assert out.startswith("purged 6 sessions")
    with open_store(populated.url, **populated.options) as store:
        assert store.get_many(["~websession:abc", "plain-key"]) == {
            "~websession:abc": {"user": "ana"},
            "plain-key": {"x": 1},
        }


def test_purge_needs_a_scope(populated: Target, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["purge", *populated.args, "--yes"])
    assert exited.value.code == 2
    assert "--namespace NAME, --tenant ID, or --all" in capsys.readouterr().err


def read_available(fd: int) -> bytes:
    """What the terminal received so far (bounded: no wait beyond what is there)."""
    received = b""
    while select.select([fd], [], [], 0.5)[0]:
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # the other side is closed: all was read
            break
        if not chunk:
            break
        received += chunk
    return received


def test_purge_asks_on_a_terminal(populated: Target, tmp_path: Path) -> None:
    """The interactive path, on a real pseudo-terminal: "n" keeps, "y" deletes."""
    pty = pytest.importorskip("pty")
    for answer, expected_code, left in ((b"n\n", EXIT_NOT_CONFIRMED, 6), (b"y\n", EXIT_OK, 1)):
        controller, terminal = pty.openpty()
        process = subprocess.Popen(
            [sys.executable, "-m", "sessionkit", "purge", *populated.args, "--namespace",
             "templates"],
            stdin=terminal, stdout=subprocess.PIPE, stderr=terminal, cwd=tmp_path,
        )  # fmt: skip
        try:
            os.write(controller, answer)
            stdout, _ = process.communicate(timeout=60)
            shown = read_available(controller).decode()
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
            os.close(terminal)
            os.close(controller)
        assert process.returncode == expected_code, shown
        assert "Delete 5 sessions (the sessions of namespace 'templates' in every tenant)" in shown
        assert "[y/N]" in shown
        if answer == b"y\n":
            assert b"purged 5 sessions" in stdout
            assert "purging" in shown  # the progress line, on the terminal only
        with populated.manager() as sessions:
            assert sessions.stats().total == left


# -- sweep, migrate ---------------------------------------------------------------------


def test_sweep_reclaims_expired_sessions(
    target: Target, capsys: pytest.CaptureFixture[str]
) -> None:
    sql = target.url.startswith("sqlite")
    if sql:  # written with a clock an hour behind: expired 59 minutes ago
        with open_store(target.url, **target.options, clock=FakeClock(time.time() - 3600)) as old:
            old.set("templates:old1", {}, ttl=60)
            old.set("templates:old2", {}, ttl=60)
    with open_store(target.url, **target.options) as store:
        store.set("templates:live", {}, ttl=7200)
    code, out, _ = run(["sweep", *target.args], capsys)
    assert code == EXIT_OK
    # SQL reclaims the rows; Redis expires keys itself, so its sweep reports 0.
    assert out.startswith(f"swept {2 if sql else 0} expired sessions")
    with open_store(target.url, **target.options) as store:
        assert store.count("templates:") == 1


def test_migrate_creates_the_schema_where_there_is_one(
    target: Target, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(["migrate", *target.args], capsys)
    assert code == EXIT_OK
    if target.url.startswith("sqlite"):
        assert out.startswith(f"schema ready: table {target.options['table_name']}")
        options = {**target.options, "auto_create_schema": False}
        with open_store(target.url, **options) as store:
            assert store.count() == 0  # the table exists: no schema is created here
        assert main(["migrate", *target.args]) == EXIT_OK  # safe to repeat
    else:
        assert out.startswith("nothing to migrate")


# -- inspect ----------------------------------------------------------------------------


def test_inspect_prints_one_session(populated: Target, capsys: pytest.CaptureFixture[str]) -> None:
    key = "@acme:templates:t1"
    code, out, _ = run(["inspect", *populated.args, key, "--json"], capsys)
    assert code == EXIT_OK
    document = json.loads(out)
    assert (document["tenant"], document["namespace"], document["id"]) == (
        "acme",
        "templates",
        "t1",
    )
    assert document["value"]["filename"] == "acme.docx"
    assert document["version"] == 1
    code, out, _ = run(["inspect", *populated.args, key], capsys)
    assert code == EXIT_OK
    assert "namespace:   templates" in out
    assert '"filename": "acme.docx"' in out


def test_inspect_of_a_missing_key_exits_5(
    populated: Target, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(["inspect", *populated.args, "templates:nope"], capsys)
    assert code == EXIT_NOT_FOUND
    assert out == ""
    assert "no session under key 'templates:nope'" in err


# -- replay -----------------------------------------------------------------------------


def journal_of_an_outage(path: Path) -> None:
    """Writes made while the primary was down, as WithFallback journals them."""
    backend = FlakyStore()
    backend.down = True
    with WithFallback(backend, path, fsync=False) as fallback:
        fallback.set("templates:written-offline", {"filename": "offline.docx"})
        fallback.merge("documents:d9", {"status": "generated"})
        fallback.delete("templates:t0")


def test_replay_applies_a_journal_by_hand(
    populated: Target, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    journal = tmp_path / "sessions.journal"
    journal_of_an_outage(journal)
    capsys.readouterr()  # its events, printed by structlog's unconfigured default
    code, out, err = run(["replay", str(journal), *populated.args, "--json"], capsys)
    assert code == EXIT_OK, err
    assert json.loads(out) == {
        "applied": 3,
        "superseded": 0,
        "conflicts": 0,
        "rejected": 0,
        "damaged_lines": 0,
        "completed": True,
        "busy": False,
        "set_aside": 0,
    }
    assert journal.stat().st_size == 0
    with open_store(populated.url, **populated.options) as store:
        assert store.get("templates:written-offline") == {"filename": "offline.docx"}
        assert store.get("documents:d9") == {"status": "generated"}
        assert not store.exists("templates:t0")
    code, out, _ = run(["replay", str(journal), *populated.args], capsys)
    assert code == EXIT_OK
    assert out.startswith("replayed 0 records")


def test_replay_of_a_missing_journal_creates_nothing(
    target: Target, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "no.journal"
    code, _, err = run(["replay", str(missing), *target.args], capsys)
    assert code == EXIT_NOT_FOUND
    assert "no journal file" in err
    assert not missing.exists()


# -- failures a script can tell apart -----------------------------------------------------


def test_an_unreachable_store_exits_4(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    code, out, err = run(["stats", "--url", url, "-o", "socket_connect_timeout=0.5"], capsys)
    assert code == EXIT_UNAVAILABLE
    assert out == ""
    assert "store unavailable" in err


def test_a_bad_store_option_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["stats", "--url", "memory://", "-o", "tabel_name=x"], capsys)
    assert code == 1
    assert "unknown option(s) for memory:// stores: tabel_name" in err


def test_store_options_must_be_name_value(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["stats", "--url", "memory://", "-o", "nonsense"])
    assert exited.value.code == 2
    assert "expected NAME=VALUE" in capsys.readouterr().err


# -- help -------------------------------------------------------------------------------


def test_help_teaches_with_examples_and_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    commands = ("stats", "keys", "get", "delete", "purge", "sweep", "migrate", "inspect", "replay")
    for command in commands:
        with pytest.raises(SystemExit):
            main([command, "--help"])
        text = capsys.readouterr().out
        assert f"sessionkit {command} " in text.split("examples:", 1)[1]
        assert "3   a purge or delete was not confirmed" in text
