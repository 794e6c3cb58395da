"""Plumbing shared by every ``sessionkit`` command: exit codes, opening a store, output."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from .._sync.protocol import SessionStore
from ..errors import ConfigurationError, StoreUnavailable
from ..observability import Observed
from ..registry import open_store, redact_url

EXIT_OK = 0
#: The operation failed: bad URL or option, a configuration the database refuses (wrong
#: password, unknown database or role, missing permission or TLS file), corrupt value,
#: conflict... (message on stderr). Retrying the same command will not help.
EXIT_FAILED = 1
#: Bad usage: unknown command or option, missing argument (argparse's own code).
EXIT_USAGE = 2
#: A destructive command was not confirmed: no ``--yes`` and no terminal, or answered no.
EXIT_NOT_CONFIRMED = 3
#: The store (or another replay holding the journal) is unavailable: try again later.
EXIT_UNAVAILABLE = 4
#: What the command was asked about does not exist: the key, the journal file, or (for a
#: read-only command) the database file or the session table.
EXIT_NOT_FOUND = 5
#: stdout was closed early (``sessionkit stats --json | head -1``): 128 + SIGPIPE, as the
#: shell's own tools report it.
EXIT_BROKEN_PIPE = 141

EXIT_CODES = {
    EXIT_OK: "success",
    EXIT_FAILED: "the operation failed, or the configuration is wrong (message on stderr)",
    EXIT_USAGE: "bad usage (message and usage on stderr)",
    EXIT_NOT_CONFIRMED: "a purge or delete was not confirmed: nothing deleted",
    EXIT_UNAVAILABLE: "the store is unavailable (or the journal is busy): try again later",
    EXIT_NOT_FOUND: "no such key, journal file, database or session table",
    EXIT_BROKEN_PIPE: "the reader of stdout went away (a pipe into head): output cut short",
}

#: Where every command reads its store URL when ``--url`` is not given.
URL_VARIABLE = "SESSIONKIT_URL"

#: URL schemes whose store is the SQL store (a table that read-only commands must not create).
SQL_SCHEMES = frozenset({"sqlite", "postgresql", "postgres", "mysql", "mariadb"})


class NotFound(Exception):
    """What a read-only command was pointed at does not exist (exit code 5)."""


def say(message: str) -> None:
    print(message, file=sys.stderr)


def store_option(text: str) -> tuple[str, Any]:
    name, separator, value = text.partition("=")
    if not separator or not name.isidentifier():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    try:
        parsed = json.loads(value)
    except ValueError:
        return name, value
    is_scalar = parsed is None or isinstance(parsed, (bool, int, float))
    return name, parsed if is_scalar else value


def options(args: argparse.Namespace) -> dict[str, Any]:
    return dict([*args.global_options, *getattr(args, "options", [])])


def url(args: argparse.Namespace) -> str:
    """``--url``, else ``$SESSIONKIT_URL``; a usage error when neither is there."""
    given: str | None = getattr(args, "url", None) or os.environ.get(URL_VARIABLE)
    if not given:
        args.parser.error(f"say which store: --url URL, or set {URL_VARIABLE}")
        raise AssertionError  # parser.error exits
    return given


def _scheme(store_url: str) -> str:
    return store_url.split("://", 1)[0].lower().split("+", 1)[0]


def _sqlite_file(store_url: str) -> Path | None:
    """The database file of a ``sqlite:///path`` URL; None for an in-memory database."""
    path = urlsplit(store_url).path
    if store_url.lower().startswith("sqlite:////"):
        path = "/" + path.lstrip("/")
    else:
        path = path[1:] if path.startswith("/") else path
    if not path or path == ":memory:" or "mode=memory" in store_url:
        return None
    return Path(path)


def open_for(args: argparse.Namespace, *, read_only: bool) -> tuple[SessionStore, Observed]:
    """The bare store for the command's URL and an observed view of it (logs, never metrics).

    A read-only command never creates anything: a missing SQLite file or session table
    raises `NotFound` before the store writes a byte.
    """
    store_url = url(args)
    store_options = options(args)
    is_sql = _scheme(store_url) in SQL_SCHEMES
    if read_only and is_sql:
        database = _sqlite_file(store_url) if _scheme(store_url) == "sqlite" else None
        if database is not None and not database.is_file():
            raise NotFound(f"no SQLite database at {str(database)!r}")
        store_options["auto_create_schema"] = False
    store = open_store(store_url, **store_options)
    if read_only and is_sql:
        _require_table(store, store_url)
    return store, Observed(store)


class _SQLLike(Protocol):
    engine: Any
    table: Any
    timeout: float


def _require_table(store: SessionStore, store_url: str) -> None:
    # Only SQL URLs need SQLAlchemy.
    from sqlalchemy import inspect  # noqa: PLC0415

    from ..stores._sql.deadline import DeadlineScope  # noqa: PLC0415

    sql: _SQLLike = store  # type: ignore[assignment]
    try:
        # The store's deadline and error classes: a wrong password or database name is a
        # ConfigurationError, a server that cannot be reached StoreUnavailable.
        with DeadlineScope(sql.timeout, sql.table.name):
            present = inspect(sql.engine).has_table(sql.table.name)
    except StoreUnavailable as error:
        store.close()
        raise StoreUnavailable(f"{redact_url(store_url)}: {error}") from error
    except ConfigurationError as error:
        store.close()
        raise ConfigurationError(f"{redact_url(store_url)}: {error}") from error
    if not present:
        store.close()
        raise NotFound(
            f"no session table {sql.table.name!r} in {redact_url(store_url)} "
            "(sessionkit migrate creates it; -o table_name=NAME picks another)"
        )


def print_json(document: Any) -> None:
    print(json.dumps(document, indent=2, ensure_ascii=False))


def confirmed(question: str) -> bool | None:
    """The answer to a y/N question on the terminal; None when there is no terminal."""
    if not sys.stdin.isatty():
        return None
    sys.stderr.write(f"{question} [y/N] ")
    sys.stderr.flush()
    return sys.stdin.readline().strip().lower() in ("y", "yes")


def refuse_unconfirmed(args: argparse.Namespace, what: str, where: str) -> int | None:
    """None to go ahead; else the exit code after saying why nothing was deleted."""
    if args.yes:
        return None
    answer = confirmed(f"Delete {what} from {where}?")
    if answer is None:
        say(
            f"sessionkit: refusing to delete {what} without confirmation: stdin is not a "
            "terminal; pass --yes to confirm"
        )
        return EXIT_NOT_CONFIRMED
    if not answer:
        say("sessionkit: cancelled; nothing was deleted")
        return EXIT_NOT_CONFIRMED
    return None


_STANDARD_RECORD_FIELDS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class _EventFormatter(logging.Formatter):
    """``2026-12-02T18:00:00 [warning] sessionkit.retry.attempt operation=get attempt=2``."""

    def format(self, record: logging.LogRecord) -> str:
        fields = " ".join(
            f"{name}={value}"
            for name, value in vars(record).items()
            if name not in _STANDARD_RECORD_FIELDS
        )
        stamp = self.formatTime(record, "%Y-%m-%dT%H:%M:%S")
        line = f"{stamp} [{record.levelname.lower()}] {record.getMessage()}"
        return f"{line} {fields}" if fields else line


@contextmanager
def cli_logging(verbosity: int) -> Iterator[None]:
    """Show sessionkit's events on stderr for this command.

    The library only logs through stdlib ``logging`` and never adds a handler; the command
    line is an application, so it adds one to the ``sessionkit`` logger for the duration
    of the command (warnings by default, ``-v`` info, ``-vv`` debug).
    """
    level = (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbosity, 2)]
    logger = logging.getLogger("sessionkit")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_EventFormatter())
    handler.setLevel(level)
    previous_level = logger.level
    logger.addHandler(handler)
    if logger.getEffectiveLevel() > level:  # never hide what another handler asked for
        logger.setLevel(level)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous_level)
