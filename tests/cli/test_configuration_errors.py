"""A configuration the store's server refuses (a wrong password, an unknown database or role)
makes the command exit 1 saying "configuration error", never 4 ("unavailable: try again
later"): retrying cannot fix it. An unreachable server still exits 4."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from sessionkit.cli import EXIT_FAILED, EXIT_UNAVAILABLE, main
from tests import redis_servers
from tests.backends.sql import MARIADB_SERVER, POSTGRES_SERVER
from tests.servers import require_server

PASSWORD = "cli-s3cret"


@pytest.fixture(scope="module")
def redis_with_password() -> Iterator[int]:
    with redis_servers.server_with_password(PASSWORD) as port:
        yield port


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_configuration_error(code: int, out: str, err: str, says: str) -> None:
    assert code == EXIT_FAILED, err
    assert out == ""
    assert "sessionkit: configuration error:" in err
    assert says in err
    assert "unavailable" not in err


TOKEN = uuid.uuid4().hex[:8]
SQL_CASES = {
    "postgresql unknown database": (
        POSTGRES_SERVER,
        f"postgresql://postgres@127.0.0.1:5432/nosuch_{TOKEN}",
        "no such database",
    ),
    "postgresql unknown role": (
        POSTGRES_SERVER,
        f"postgresql://nosuch_{TOKEN}@127.0.0.1:5432/test",
        "no such role",
    ),
    "mariadb wrong password": (
        MARIADB_SERVER,
        "mariadb://root:wrong-password@127.0.0.1:3306/test",
        "refused the credentials",
    ),
    "mariadb unknown database": (
        MARIADB_SERVER,
        f"mariadb://root@127.0.0.1:3306/nosuch_{TOKEN}",
        "no such database",
    ),
}


@pytest.mark.parametrize("case", sorted(SQL_CASES))
@pytest.mark.parametrize("command", [["stats"], ["keys", "x:"], ["migrate"]])
def test_a_refused_sql_configuration_exits_1(
    case: str, command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    server, url, says = SQL_CASES[case]
    require_server(*server)
    code, out, err = run([*command, "--url", url], capsys)
    assert_configuration_error(code, out, err, says)
    assert "wrong-password" not in err  # the URL is shown redacted


def test_a_sqlite_file_that_cannot_be_opened_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path}/no/such/directory/sessions.db"
    code, out, err = run(["migrate", "--url", url], capsys)
    assert_configuration_error(code, out, err, "cannot be opened")


@pytest.mark.parametrize("userinfo", [":wrong", ""], ids=["wrong password", "no password"])
def test_a_refused_redis_password_exits_1(
    redis_with_password: int, userinfo: str, capsys: pytest.CaptureFixture[str]
) -> None:
    at = "@" if userinfo else ""
    url = f"redis://{userinfo}{at}127.0.0.1:{redis_with_password}/0"
    code, out, err = run(["stats", "--url", url], capsys)
    assert_configuration_error(code, out, err, "password")


def test_an_unreachable_sql_server_still_exits_4(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"postgresql://postgres@127.0.0.1:{redis_servers.free_port()}/test"
    code, out, err = run(["stats", "--url", url, "-o", "timeout=2"], capsys)
    assert code == EXIT_UNAVAILABLE, err
    assert out == ""
    assert "store unavailable" in err
