"""The CLI is safe to point at production: read-only commands create nothing, closed pipes
end quietly, one URL convention (``--url`` or ``$SESSIONKIT_URL``), options in any place.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from sessionkit import open_store
from sessionkit.cli import EXIT_BROKEN_PIPE, EXIT_NOT_CONFIRMED, EXIT_NOT_FOUND, EXIT_OK, main
from tests.backends import SPECS

READ_ONLY = [
    ["stats"],
    ["stats", "--json"],
    ["keys", "templates:"],
    ["get", "templates:t1"],
    ["inspect", "templates:t1"],
    ["delete", "templates:t1", "--yes"],
    ["purge", "--all", "--yes"],
    ["sweep"],
]


def cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sessionkit", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("command", READ_ONLY, ids=" ".join)
def test_a_missing_sqlite_file_is_reported_and_not_created(
    command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    typo = tmp_path / "typo.db"
    assert main([*command, "--url", f"sqlite:///{typo}"]) == EXIT_NOT_FOUND
    assert "no SQLite database" in capsys.readouterr().err
    assert not typo.exists()


@pytest.mark.parametrize("command", READ_ONLY, ids=" ".join)
def test_a_missing_sqlite_table_is_reported_and_not_created(
    command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    database = tmp_path / "app.db"
    with open_store(f"sqlite:///{database}") as store:
        store.set("templates:t1", {"n": 1})  # the default table exists, "typo" does not
    code = main([*command, "--url", f"sqlite:///{database}", "-o", "table_name=typo"])
    assert code == EXIT_NOT_FOUND
    assert "no session table 'typo'" in capsys.readouterr().err
    with sqlite3.connect(database) as conn:
        tables = {row[0] for row in conn.execute("select name from sqlite_master")}
    assert "typo" not in tables


@pytest.mark.parametrize("backend", ["postgresql", "mariadb"])
@pytest.mark.parametrize("command", [["stats"], ["keys"], ["get", "k:1"]], ids=" ".join)
def test_a_missing_server_table_is_reported_and_not_created(
    backend: str, command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    spec = SPECS[backend]
    spec.require()
    url = spec.url(None)
    table = spec.options(uuid.uuid4().hex[:12])["table_name"]
    assert main([*command, "--url", url, "-o", f"table_name={table}"]) == EXIT_NOT_FOUND
    assert f"no session table {table!r}" in capsys.readouterr().err
    with open_store(url, table_name=table, auto_create_schema=False) as store:
        assert not sa.inspect(store.engine).has_table(table)  # type: ignore[attr-defined]


def test_a_store_url_comes_from_the_environment_and_options_go_anywhere(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    with open_store(url) as store:
        store.set("templates:t1", {"filename": "a.docx"}, ttl=600)
        store.set("documents:d1", {})
    from_env = cli("keys", "templates:", cwd=tmp_path, env={"SESSIONKIT_URL": url})
    assert (from_env.returncode, from_env.stdout) == (EXIT_OK, "templates:t1\n"), from_env.stderr
    for order in (
        ["--url", url, "-o", "default_ttl=60", "get", "templates:t1"],
        ["get", "templates:t1", "--url", url, "-o", "default_ttl=60"],
        ["-o", "default_ttl=60", "get", "--url", url, "templates:t1"],
    ):
        result = cli(*order, cwd=tmp_path)
        assert result.returncode == EXIT_OK, (order, result.stderr)
        assert '"filename": "a.docx"' in result.stdout
        assert '"version": 1' in result.stdout
        assert '"ttl_seconds": ' in result.stdout


def test_no_url_anywhere_is_a_usage_error(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if key != "SESSIONKIT_URL"}
    result = subprocess.run(
        [sys.executable, "-m", "sessionkit", "stats"],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "--url URL, or set SESSIONKIT_URL" in result.stderr


def test_get_prints_json_with_version_and_ttl(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    with open_store(url) as store:
        store.set("@acme:templates:t1", {"filename": "a.docx"}, ttl=600)
        store.merge("@acme:templates:t1", {"status": "confirmed"})
    result = cli("get", "@acme:templates:t1", "--url", url, cwd=tmp_path)  # a clean stdout
    assert result.returncode == EXIT_OK, result.stderr
    document = json.loads(result.stdout)
    assert document["value"] == {"filename": "a.docx", "status": "confirmed"}
    assert document["version"] == 2
    assert 0 < document["ttl_seconds"] <= 600
    where = (document["tenant"], document["namespace"], document["id"])
    assert where == ("acme", "templates", "t1")
    assert cli("get", "templates:nope", "--url", url, cwd=tmp_path).returncode == EXIT_NOT_FOUND


def test_delete_asks_like_purge(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    with open_store(url) as store:
        store.set("templates:t1", {})
    refused = cli("delete", "templates:t1", "--url", url, cwd=tmp_path)  # stdin: not a terminal
    assert refused.returncode == EXIT_NOT_CONFIRMED
    assert "pass --yes" in refused.stderr
    assert main(["delete", "templates:t1", "--url", url, "--yes"]) == EXIT_OK
    assert main(["delete", "templates:t1", "--url", url, "--yes"]) == EXIT_NOT_FOUND
    with open_store(url) as store:
        assert not store.exists("templates:t1")


@pytest.mark.parametrize(
    "command",
    ["demo --url memory://", "keys --url {url}", "stats --json --url {url}"],
)
def test_a_pipe_closed_early_ends_quietly(command: str, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'many.db'}"
    with open_store(url) as store:  # more output than a pipe buffer holds
        store.set_many({f"templates:t{i:05}": {} for i in range(20000)})
    script = (
        f"{sys.executable} -m sessionkit {command.format(url=url)} | head -1 >/dev/null; "
        "echo ${PIPESTATUS[0]}"
    )
    result = subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, cwd=tmp_path, timeout=120,
        check=False,
    )  # fmt: skip
    assert result.stderr == ""
    assert result.stdout.strip() in (str(EXIT_OK), str(EXIT_BROKEN_PIPE))
