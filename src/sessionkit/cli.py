"""The ``sessionkit`` command line.

Each subcommand is one function taking the parsed arguments and returning an exit code.
Scripts may rely on the codes (see :data:`EXIT_CODES` and docs/operations.md) and on
stdout carrying only the result (``--json`` where offered); messages, prompts and
progress go to stderr, progress only when stderr is a terminal.
"""

from __future__ import annotations

import argparse
import importlib
import itertools
import json
import logging
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import structlog

from . import __version__
from ._sync.protocol import SessionStore
from .demo import DEFAULT_DEMO_URL, run_demo
from .errors import SessionKitError, StoreUnavailable
from .manager import SessionManager, SessionStats
from .namespaces.keyspace import parse_key
from .observability import Observed
from .registry import open_store, redact_url
from .resilience import WithFallback

__all__ = [
    "EXIT_CODES",
    "EXIT_FAILED",
    "EXIT_NOT_CONFIRMED",
    "EXIT_NOT_FOUND",
    "EXIT_OK",
    "EXIT_UNAVAILABLE",
    "EXIT_USAGE",
    "build_parser",
    "main",
]

EXIT_OK = 0
#: The operation failed: bad URL or option, corrupt value, conflict... (message on stderr).
EXIT_FAILED = 1
#: Bad usage: unknown command or option, missing argument (argparse's own code).
EXIT_USAGE = 2
#: A destructive command was not confirmed: no ``--yes`` and no terminal, or answered no.
EXIT_NOT_CONFIRMED = 3
#: The store (or another replay holding the journal) is unavailable: try again later.
EXIT_UNAVAILABLE = 4
#: What the command was asked about does not exist (the key, the journal file).
EXIT_NOT_FOUND = 5

EXIT_CODES = {
    EXIT_OK: "success",
    EXIT_FAILED: "the operation failed (message on stderr)",
    EXIT_USAGE: "bad usage (message and usage on stderr)",
    EXIT_NOT_CONFIRMED: "a purge was not confirmed: nothing deleted",
    EXIT_UNAVAILABLE: "the store is unavailable (or the journal is busy): try again later",
    EXIT_NOT_FOUND: "no such key (inspect) or journal file (replay)",
}

_EPILOG_EXIT_CODES = "exit codes:\n" + "\n".join(
    f"  {code}  {meaning}" for code, meaning in EXIT_CODES.items()
)

_STORE_OPTION_HELP = (
    "a store option, NAME=VALUE (repeatable); VALUE is read as JSON when it parses "
    "(3600, true, null) and as a string otherwise: -o table_name=sessions -o prefix=app:"
)


# -- shared plumbing ----------------------------------------------------------------------


def _store_option(text: str) -> tuple[str, Any]:
    name, separator, value = text.partition("=")
    if not separator or not name.isidentifier():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    try:
        parsed = json.loads(value)
    except ValueError:
        return name, value
    is_scalar = parsed is None or isinstance(parsed, (bool, int, float))
    return name, parsed if is_scalar else value


def _options(args: argparse.Namespace) -> dict[str, Any]:
    return dict(args.options)


def _open(args: argparse.Namespace) -> tuple[SessionStore, Observed]:
    """The bare store for ``args.url`` and an observed view of it (logs, never metrics)."""
    store = open_store(args.url, **_options(args))
    return store, Observed(store)


def _say(message: str) -> None:
    print(message, file=sys.stderr)


@contextmanager
def _working(message: str) -> Iterator[None]:
    """A spinner with the elapsed seconds on stderr while the block runs, on a terminal only."""
    stream = sys.stderr
    if not stream.isatty():
        yield
        return
    done = threading.Event()

    def spin() -> None:
        started = time.monotonic()
        for frame in itertools.cycle("|/-\\"):
            stream.write(f"\r{message} {frame} {time.monotonic() - started:.0f}s")
            stream.flush()
            if done.wait(0.1):
                break
        stream.write("\r" + " " * (len(message) + 16) + "\r")
        stream.flush()

    spinner = threading.Thread(target=spin, name="sessionkit-progress", daemon=True)
    spinner.start()
    try:
        yield
    finally:
        done.set()
        spinner.join(timeout=2)


@contextmanager
def _cli_logging(verbosity: int) -> Iterator[None]:
    """Send sessionkit's events to stderr for this command, unless structlog is configured.

    The library never configures structlog; the command line is an application, so it
    does, but only for the duration of the command and only if nobody else has.
    """
    if structlog.is_configured():
        yield
        return
    level = (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbosity, 2)]
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso"),
            structlog.dev.ConsoleRenderer(colors=False),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=False,
    )
    try:
        yield
    finally:
        structlog.reset_defaults()


# -- commands -----------------------------------------------------------------------------


def _demo(args: argparse.Namespace) -> int:
    run_demo(args.url)
    return EXIT_OK


def stats_report(stats: SessionStats) -> dict[str, Any]:
    """``stats --json``'s document: total, keys outside namespaces, per namespace, per tenant."""
    rows = sorted(stats.counts.items(), key=lambda item: (item[0][0] or "", item[0][1]))
    return {
        "total": stats.total,
        "other": stats.other,
        "namespaces": dict(sorted(stats.by_namespace().items())),
        "counts": [
            {"tenant": tenant, "namespace": namespace, "sessions": count}
            for (tenant, namespace), count in rows
        ],
    }


def _stats(args: argparse.Namespace) -> int:
    _, store = _open(args)
    with SessionManager(store, sweep_interval=None) as manager:
        report = stats_report(manager.stats())
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
        return EXIT_OK
    table = [("TENANT", "NAMESPACE", "SESSIONS")]
    table += [
        (row["tenant"] or "(default)", row["namespace"], str(row["sessions"]))
        for row in report["counts"]
    ]
    if report["other"]:
        table.append(("", "(keys outside namespaces)", str(report["other"])))
    table.append(("total", "", str(report["total"])))
    widths = [max(len(row[i]) for row in table) for i in range(2)]
    for tenant, namespace, count in table:
        print(f"{tenant:<{widths[0]}}  {namespace:<{widths[1]}}  {count:>8}".rstrip())
    return EXIT_OK


def _purge_scope(namespace: str | None, tenant: str | None) -> str:
    if namespace is None and tenant is None:
        return "every session"
    what = "every session" if namespace is None else f"the sessions of namespace {namespace!r}"
    if tenant is None:
        return f"{what} in every tenant" if namespace is not None else what
    return f"{what} of tenant {tenant!r}"


def _confirmed(question: str) -> bool | None:
    """The answer to a y/N question on the terminal; None when there is no terminal."""
    if not sys.stdin.isatty():
        return None
    sys.stderr.write(f"{question} [y/N] ")
    sys.stderr.flush()
    return sys.stdin.readline().strip().lower() in ("y", "yes")


def _purge(args: argparse.Namespace) -> int:
    if args.all and (args.namespace or args.tenant):
        args.parser.error("--all purges everything: do not combine it with --namespace/--tenant")
    if not (args.all or args.namespace or args.tenant):
        args.parser.error("say what to purge: --namespace NAME, --tenant ID, or --all")
    namespace, tenant = args.namespace, args.tenant
    _, store = _open(args)
    with SessionManager(store, sweep_interval=None) as manager:
        # Count with the manager's own rule (namespace sessions only, never the
        # integrations' "~" keys), so the number confirmed is the number purged.
        planned = sum(
            count
            for (tenant_id, name), count in manager.stats().counts.items()
            if (namespace is None or name == namespace)
            and (tenant is None or tenant_id == tenant)
        )
        scope = _purge_scope(namespace, tenant)
        where = redact_url(args.url)
        if not planned:
            print(f"nothing to purge: no sessions match ({scope}) in {where}")
            return EXIT_OK
        if not args.yes:
            answer = _confirmed(f"Delete {planned} sessions ({scope}) from {where}?")
            if answer is None:
                _say(
                    f"sessionkit: refusing to delete {planned} sessions ({scope}) without "
                    "confirmation: stdin is not a terminal; pass --yes to confirm"
                )
                return EXIT_NOT_CONFIRMED
            if not answer:
                _say("sessionkit: purge cancelled; nothing was deleted")
                return EXIT_NOT_CONFIRMED
        with _working(f"purging {scope}"):
            removed = manager.purge(namespace=namespace, tenant=tenant)
    print(f"purged {removed} sessions ({scope}) from {where}")
    return EXIT_OK


def _sweep(args: argparse.Namespace) -> int:
    _, store = _open(args)
    with store, _working("sweeping expired sessions"):
        removed = store.sweep()
    print(f"swept {removed} expired sessions from {redact_url(args.url)}")
    return EXIT_OK


def _migrate(args: argparse.Namespace) -> int:
    bare, _ = _open(args)
    with bare:
        create_schema: Callable[[], None] | None = getattr(bare, "create_schema", None)
        if create_schema is None:
            print(f"nothing to migrate: {type(bare).__name__} keeps no schema")
            return EXIT_OK
        create_schema()
        table = getattr(getattr(bare, "table", None), "name", None)
    print(f"schema ready{f': table {table}' if table else ''} in {redact_url(args.url)}")
    return EXIT_OK


def inspect_document(
    key: str, value: dict[str, Any], version: int, expires_at: float | None, now: float
) -> dict[str, Any]:
    """``inspect --json``'s document for one entry."""
    parsed = parse_key(key)
    tenant, namespace, session_id = parsed if parsed is not None else (None, None, None)
    expires = (
        None
        if expires_at is None
        else datetime.fromtimestamp(expires_at, timezone.utc).isoformat(timespec="seconds")
    )
    return {
        "key": key,
        "tenant": tenant,
        "namespace": namespace,
        "id": session_id,
        "version": version,
        "expires_at": expires,
        "ttl_seconds": None if expires_at is None else round(max(expires_at - now, 0.0), 3),
        "value": value,
    }


def _inspect(args: argparse.Namespace) -> int:
    _, store = _open(args)
    with store:
        entry = store.get_entry(args.key)  # logged by the Observed wrapper as a digest
    if entry is None:
        _say(f"sessionkit: no session under key {args.key!r} in {redact_url(args.url)}")
        return EXIT_NOT_FOUND
    document = inspect_document(args.key, entry.value, entry.version, entry.expires_at, time.time())
    if args.json:
        print(json.dumps(document, indent=2, ensure_ascii=False))
        return EXIT_OK
    for field in ("key", "tenant", "namespace", "id", "version", "expires_at", "ttl_seconds"):
        if document[field] is not None:
            print(f"{field + ':':<12} {document[field]}")
    print("value:")
    print(json.dumps(document["value"], indent=2, ensure_ascii=False, sort_keys=True))
    return EXIT_OK


def _replay(args: argparse.Namespace) -> int:
    journal = Path(args.journal)
    if not journal.is_file():  # WithFallback would create it: say so instead
        _say(f"sessionkit: no journal file at {str(journal)!r}")
        return EXIT_NOT_FOUND
    options = _options(args)
    _, store = _open(args)
    fallback = WithFallback(store, journal, default_ttl=options.get("default_ttl"))
    with fallback, _working(f"replaying {journal.name}"):
        report = fallback.replay()
    summary = {
        "applied": report.applied,
        "conflicts": report.conflicts,
        "rejected": report.rejected,
        "damaged_lines": len(report.damaged),
        "completed": report.completed,
        "busy": report.busy,
    }
    if args.json:
        print(json.dumps(summary, indent=2))
    if report.busy:
        _say("sessionkit: another replay holds this journal; try again when it ends")
        return EXIT_UNAVAILABLE
    if not report.completed:
        _say(
            f"sessionkit: the store failed during the replay after {report.applied} records; "
            "the rest stays in the journal: run replay again when the store answers"
        )
        return EXIT_UNAVAILABLE
    if not args.json:
        print(
            f"replayed {report.applied} records into {redact_url(args.url)} "
            f"({report.conflicts} conflicts, {report.rejected} rejected, "
            f"{len(report.damaged)} damaged lines skipped); the journal is now empty"
        )
    return EXIT_OK


def _bench(args: argparse.Namespace) -> int:
    try:
        runner = importlib.import_module("benchmarks.runner")
    except ImportError as error:
        if error.name not in ("benchmarks", "benchmarks.runner"):
            raise
        _say(
            "sessionkit: the benchmark suite is not installed with the package; it lives in "
            "the source checkout: run `sessionkit bench` (or `python -m benchmarks`) from a "
            "clone of the sessionkit repository"
        )
        return EXIT_FAILED
    with _working("benchmarking"):
        return int(runner.main(list(args.runner_args)))


# -- the parser ---------------------------------------------------------------------------


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the epilog's examples as written."""


def _command(
    commands: Any,
    name: str,
    handler: Callable[[argparse.Namespace], int],
    summary: str,
    description: str,
    *,
    examples: Sequence[str],
    parents: Sequence[argparse.ArgumentParser] = (),
    with_store: bool = True,
) -> argparse.ArgumentParser:
    epilog = "examples:\n" + "\n".join(f"  {line}" for line in examples)
    parser: argparse.ArgumentParser = commands.add_parser(
        name,
        help=summary,
        description=textwrap.fill(description, 88),
        epilog=f"{epilog}\n\n{_EPILOG_EXIT_CODES}",
        formatter_class=_Formatter,
        parents=list(parents),
    )
    parser.set_defaults(handler=handler, parser=parser)
    if with_store:
        _add_store_arguments(parser)
    return parser


def _add_store_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "url", metavar="URL", help="store URL: sqlite:///sessions.db, redis://host:6379/0, ..."
    )
    parser.add_argument(
        "-o",
        "--option",
        dest="options",
        action="append",
        type=_store_option,
        default=[],
        metavar="NAME=VALUE",
        help=_STORE_OPTION_HELP,
    )


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="log sessionkit's events to stderr: -v info, -vv debug (default: warnings)",
    )
    parser = argparse.ArgumentParser(
        prog="sessionkit",
        description="Server-side session state: inspect and manage sessionkit stores.",
        epilog=(
            "examples:\n"
            "  sessionkit stats sqlite:///sessions.db\n"
            "  sessionkit stats redis://localhost:6379/0 --json\n"
            "  sessionkit purge redis://localhost:6379/0 --namespace admin --yes\n"
            "  sessionkit COMMAND --help      (every command has examples)\n\n"
            f"{_EPILOG_EXIT_CODES}"
        ),
        formatter_class=_Formatter,
    )
    parser.add_argument("--version", action="version", version=f"sessionkit {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = _command(
        commands,
        "demo",
        _demo,
        "run a document workflow (template -> document -> extraction -> cancellation)",
        "Run seed 000's document workflow on a store and print what it stored.",
        examples=["sessionkit demo", "sessionkit demo --url sqlite:///demo.db   (run it twice)"],
        parents=[common],
        with_store=False,
    )
    demo.add_argument(
        "--url", default=DEFAULT_DEMO_URL, help=f"store URL (default: {DEFAULT_DEMO_URL})"
    )

    stats = _command(
        commands,
        "stats",
        _stats,
        "count live sessions per tenant and namespace",
        "Count the live sessions in a store, per tenant and namespace (a scan of the keys).",
        examples=[
            "sessionkit stats sqlite:///sessions.db",
            "sessionkit stats redis://localhost:6379/0 -o prefix=myapp: --json | jq .total",
        ],
        parents=[common],
    )
    stats.add_argument("--json", action="store_true", help="print a JSON document, not a table")

    purge = _command(
        commands,
        "purge",
        _purge,
        "delete the sessions of a namespace and/or tenant (asks first)",
        "Delete sessions in bulk. Asks for confirmation on the terminal; without a terminal "
        "(a script, cron) it refuses unless --yes is given.",
        examples=[
            "sessionkit purge sqlite:///sessions.db --namespace admin",
            "sessionkit purge redis://localhost:6379/0 --tenant acme --yes",
            "sessionkit purge redis://localhost:6379/0 --namespace documents --tenant acme",
            "sessionkit purge sqlite:///sessions.db --all --yes   (every session)",
        ],
        parents=[common],
    )
    purge.add_argument("--namespace", help="only this namespace (every tenant unless --tenant)")
    purge.add_argument("--tenant", help="only this tenant's sessions")
    purge.add_argument("--all", action="store_true", help="every session in the store")
    purge.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")

    _command(
        commands,
        "sweep",
        _sweep,
        "reclaim expired sessions now",
        "Delete expired entries now (SQL and memory stores; Redis expires keys itself and "
        "reports 0). A SessionManager's sweeper does this every minute.",
        examples=["sessionkit sweep sqlite:///sessions.db", "sessionkit sweep postgresql://db/app"],
        parents=[common],
    )

    _command(
        commands,
        "migrate",
        _migrate,
        "create the SQL table and indexes (safe to repeat)",
        "Create the session table and its indexes if they do not exist (SQL stores); other "
        "stores keep no schema and have nothing to do.",
        examples=[
            "sessionkit migrate postgresql://app@db/app",
            "sessionkit migrate sqlite:///sessions.db -o table_name=bot_sessions",
        ],
        parents=[common],
    )

    inspect = _command(
        commands,
        "inspect",
        _inspect,
        "pretty-print one session",
        "Print one entry: its key's tenant, namespace and id, version, expiry and value. "
        "Keys look like NAMESPACE:ID or @TENANT:NAMESPACE:ID (ids percent-encoded); logs "
        "show only a digest of the key.",
        examples=[
            "sessionkit inspect sqlite:///sessions.db templates:tpl-1a2b",
            "sessionkit inspect redis://localhost:6379/0 @acme:admin:42 --json",
        ],
        parents=[common],
    )
    inspect.add_argument("key", metavar="KEY", help="the store key")
    inspect.add_argument("--json", action="store_true", help="print a JSON document")

    replay = _command(
        commands,
        "replay",
        _replay,
        "replay a fallback journal into a store by hand",
        "Apply the records of a fallback journal (written by WithFallback/resilient() "
        "while the store was down) to the store, then empty the journal. Safe to repeat "
        "and to interrupt: applied records are remembered in JOURNAL.cursor.",
        examples=[
            "sessionkit replay /var/lib/app/sessions.journal redis://localhost:6379/0",
            "sessionkit replay sessions.journal sqlite:///sessions.db --json",
        ],
        parents=[common],
        with_store=False,
    )
    replay.add_argument("journal", metavar="JOURNAL", help="the journal file")
    _add_store_arguments(replay)
    replay.add_argument("--json", action="store_true", help="print the replay report as JSON")

    bench = _command(
        commands,
        "bench",
        _bench,
        "run the benchmark suite (from a source checkout)",
        "Run sessionkit's benchmarks against their baselines and print ratios. The suite "
        "ships with the source, not the package: run it from a clone.",
        examples=[
            "sessionkit bench --quick",
            "sessionkit bench benchmarks.memory --rounds 30 --json bench.json",
        ],
        parents=[common],
        with_store=False,
    )
    bench.add_argument(
        "runner_args",
        nargs=argparse.REMAINDER,
        metavar="ARGS",
        help="passed unchanged to the benchmark runner: suite modules, --quick, --rounds N, "
        "--json PATH... (python -m benchmarks --help lists them)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if arguments[:1] == ["bench"] and not {"-h", "--help"} & set(arguments):
        # Everything after "bench" belongs to the runner, options included (argparse
        # would reject the options it does not know).
        args = parser.parse_args(["bench"])
        args.runner_args = arguments[1:]
    else:
        args = parser.parse_args(arguments)
    with _cli_logging(args.verbose):
        try:
            return int(args.handler(args))
        except StoreUnavailable as error:
            _say(f"sessionkit: store unavailable: {error}")
            return EXIT_UNAVAILABLE
        except SessionKitError as error:
            _say(f"sessionkit: error: {error}")
            return EXIT_FAILED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
