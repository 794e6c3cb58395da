"""The ``sessionkit`` command line.

Each subcommand is one function taking the parsed arguments and returning an exit code.
Scripts may rely on the codes (see `EXIT_CODES` and docs/operations.md) and on stdout
carrying only the result (``--json`` where offered); messages, prompts and progress go to
stderr, progress only when stderr is a terminal.

Every command takes its store as ``--url URL`` (else ``$SESSIONKIT_URL``); ``--url``,
``-o NAME=VALUE`` and ``-v`` go before or after the command name.
"""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
from collections.abc import Callable, Sequence
from typing import Any

from .. import __version__
from ..errors import ConfigurationError, SessionKitError, StoreUnavailable
from ..presets.demo import DEFAULT_DEMO_URL
from . import importing, read, write
from ._common import (
    EXIT_BROKEN_PIPE,
    EXIT_CODES,
    EXIT_FAILED,
    EXIT_NOT_CONFIRMED,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_UNAVAILABLE,
    EXIT_USAGE,
    URL_VARIABLE,
    NotFound,
    cli_logging,
    say,
    store_option,
)
from .read import inspect_document, stats_report

__all__ = [
    "EXIT_BROKEN_PIPE",
    "EXIT_CODES",
    "EXIT_FAILED",
    "EXIT_NOT_CONFIRMED",
    "EXIT_NOT_FOUND",
    "EXIT_OK",
    "EXIT_UNAVAILABLE",
    "EXIT_USAGE",
    "build_parser",
    "inspect_document",
    "main",
    "stats_report",
]

_EPILOG_EXIT_CODES = "exit codes:\n" + "\n".join(
    f"  {code:<3} {meaning}" for code, meaning in EXIT_CODES.items()
)

_STORE_OPTION_HELP = (
    "a store option, NAME=VALUE (repeatable); VALUE is read as JSON when it parses "
    "(3600, true, null) and as a string otherwise: -o table_name=sessions -o prefix=app:"
)
_URL_HELP = f"store URL: sqlite:///sessions.db, redis://host:6379/0, ... (default: ${URL_VARIABLE})"


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the epilog's examples as written."""


def _global_arguments(parser: argparse.ArgumentParser, *, top: bool, store: bool) -> None:
    """``--url``, ``-o`` and ``-v``, accepted before the command (top) and after it."""
    suffix = "" if top else "_after"
    parser.add_argument(
        "-v",
        "--verbose",
        dest=f"verbose{suffix}",
        action="count",
        default=0,
        help="log sessionkit's events to stderr: -v info, -vv debug (default: warnings)",
    )
    if not store:
        return
    parser.add_argument(
        "-u",
        "--url",
        metavar="URL",
        default=None if top else argparse.SUPPRESS,
        help=_URL_HELP,
    )
    parser.add_argument(
        "-o",
        "--option",
        dest="global_options" if top else "options",
        action="append",
        type=store_option,
        default=[],
        metavar="NAME=VALUE",
        help=_STORE_OPTION_HELP,
    )


def _command(
    commands: Any,
    name: str,
    handler: Callable[[argparse.Namespace], int],
    summary: str,
    description: str,
    *,
    examples: Sequence[str],
) -> argparse.ArgumentParser:
    epilog = "examples:\n" + "\n".join(f"  {line}" for line in examples)
    parser: argparse.ArgumentParser = commands.add_parser(
        name,
        help=summary,
        description=textwrap.fill(description, 88),
        epilog=f"{epilog}\n\n{_EPILOG_EXIT_CODES}",
        formatter_class=_Formatter,
    )
    parser.set_defaults(handler=handler, parser=parser)
    _global_arguments(parser, top=False, store=True)
    return parser


def _json_flag(parser: argparse.ArgumentParser, text: str = "print a JSON document") -> None:
    parser.add_argument("--json", action="store_true", help=text)


def _yes_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sessionkit",
        description="Server-side session state: inspect and manage sessionkit stores.",
        epilog=(
            "examples:\n"
            "  sessionkit stats --url sqlite:///sessions.db\n"
            "  export SESSIONKIT_URL=redis://localhost:6379/0\n"
            "  sessionkit stats --json\n"
            "  sessionkit keys templates:\n"
            "  sessionkit get templates:tpl-1a2b\n"
            "  sessionkit purge --namespace admin --yes\n"
            "  sessionkit COMMAND --help      (every command has examples)\n\n"
            f"{_EPILOG_EXIT_CODES}"
        ),
        formatter_class=_Formatter,
    )
    parser.add_argument("--version", action="version", version=f"sessionkit {__version__}")
    _global_arguments(parser, top=True, store=True)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    _command(
        commands,
        "demo",
        write.demo,
        "run a document workflow (template -> document -> extraction -> cancellation)",
        "Run a document-processing workflow (upload a template, confirm it, generate a "
        "document, extract its fields, cancel and withdraw) on a store and print what it "
        f"stored. Without --url or ${URL_VARIABLE} it uses {DEFAULT_DEMO_URL}: run it twice "
        "and the second run finds the first run's sessions.",
        examples=["sessionkit demo", "sessionkit demo --url sqlite:///demo.db   (run it twice)"],
    )

    stats = _command(
        commands,
        "stats",
        read.stats,
        "count live sessions per tenant and namespace",
        "Count the live sessions in a store, per tenant and namespace (a scan of the keys). "
        "Read-only: a missing database or session table is reported (exit 5), never created.",
        examples=[
            "sessionkit stats --url sqlite:///sessions.db",
            "sessionkit stats --url redis://localhost:6379/0 -o prefix=myapp: --json | jq .total",
        ],
    )
    _json_flag(stats, "print a JSON document, not a table")

    keys = _command(
        commands,
        "keys",
        read.keys,
        "list the keys under a prefix",
        "Print the live keys that start with PREFIX, one a line (every key without PREFIX). "
        "Read-only; keys look like NAMESPACE:ID or @TENANT:NAMESPACE:ID.",
        examples=[
            "sessionkit keys templates: --url sqlite:///sessions.db",
            "sessionkit keys @acme: --json",
        ],
    )
    keys.add_argument("prefix", metavar="PREFIX", nargs="?", default="", help="a key prefix")
    _json_flag(keys, "print a JSON list")

    get = _command(
        commands,
        "get",
        read.get,
        "print one session as JSON, with its version and TTL",
        "Print one entry as a JSON document: key, tenant, namespace, id, version, expiry, "
        "TTL and value. Read-only.",
        examples=[
            "sessionkit get templates:tpl-1a2b --url sqlite:///sessions.db",
            "sessionkit get @acme:admin:42 | jq .value",
        ],
    )
    get.add_argument("key", metavar="KEY", help="the store key")

    inspect = _command(
        commands,
        "inspect",
        read.inspect,
        "pretty-print one session",
        "Print one entry: its key's tenant, namespace and id, version, expiry and value. "
        "Keys look like NAMESPACE:ID or @TENANT:NAMESPACE:ID (ids percent-encoded); logs "
        "show only a digest of the key. Read-only.",
        examples=[
            "sessionkit inspect templates:tpl-1a2b --url sqlite:///sessions.db",
            "sessionkit inspect @acme:admin:42 --url redis://localhost:6379/0 --json",
        ],
    )
    inspect.add_argument("key", metavar="KEY", help="the store key")
    _json_flag(inspect)

    delete = _command(
        commands,
        "delete",
        write.delete,
        "delete one session (asks first)",
        "Delete one entry. Asks for confirmation on the terminal; without a terminal (a "
        "script, cron) it refuses unless --yes is given. A missing key exits 5.",
        examples=[
            "sessionkit delete templates:tpl-1a2b --url sqlite:///sessions.db",
            "sessionkit delete @acme:admin:42 --yes",
        ],
    )
    delete.add_argument("key", metavar="KEY", help="the store key")
    _yes_flag(delete)

    purge = _command(
        commands,
        "purge",
        write.purge,
        "delete the sessions of a namespace and/or tenant (asks first)",
        "Delete sessions in bulk. Asks for confirmation on the terminal; without a terminal "
        "(a script, cron) it refuses unless --yes is given.",
        examples=[
            "sessionkit purge --url sqlite:///sessions.db --namespace admin",
            "sessionkit purge --url redis://localhost:6379/0 --tenant acme --yes",
            "sessionkit purge --namespace documents --tenant acme",
            "sessionkit purge --url sqlite:///sessions.db --all --yes   (every session)",
        ],
    )
    purge.add_argument("--namespace", help="only this namespace (every tenant unless --tenant)")
    purge.add_argument("--tenant", help="only this tenant's sessions")
    purge.add_argument("--all", action="store_true", help="every session in the store")
    _yes_flag(purge)

    _command(
        commands,
        "sweep",
        write.sweep,
        "reclaim expired sessions now",
        "Delete expired entries now (SQL and memory stores; Redis expires keys itself and "
        "reports 0). A SessionManager's sweeper does this every minute.",
        examples=[
            "sessionkit sweep --url sqlite:///sessions.db",
            "sessionkit sweep --url postgresql://db/app",
        ],
    )

    _command(
        commands,
        "migrate",
        write.migrate,
        "create the SQL table and indexes (safe to repeat)",
        "Create the session table and its indexes if they do not exist (SQL stores); other "
        "stores keep no schema and have nothing to do.",
        examples=[
            "sessionkit migrate --url postgresql://app@db/app",
            "sessionkit migrate --url sqlite:///sessions.db -o table_name=bot_sessions",
        ],
    )

    replay = _command(
        commands,
        "replay",
        write.replay,
        "replay a fallback journal by hand; show, retry or drop its set-aside records",
        "Apply the records of a fallback journal (written by WithFallback/resilient() "
        "while the store was down) to the store, then empty the journal. Safe to repeat "
        "and to interrupt: progress is kept in JOURNAL.cursor. Records the store refused "
        "for good, and damaged lines, are set aside in JOURNAL.dead: 'show' lists them "
        "(no store needed), 'retry' puts them back in the journal and replays, 'drop' "
        "deletes them (asks first). A journal_key is read from $SESSIONKIT_JOURNAL_KEY.",
        examples=[
            "sessionkit replay /var/lib/app/sessions.journal --url redis://localhost:6379/0",
            "sessionkit replay sessions.journal --url sqlite:///sessions.db --json",
            "sessionkit replay sessions.journal show",
            "sessionkit replay sessions.journal retry 3f2a... --url redis://localhost:6379/0",
            "sessionkit replay sessions.journal drop --all --yes",
        ],
    )
    replay.add_argument("journal", metavar="JOURNAL", help="the journal file")
    replay.add_argument(
        "action",
        metavar="ACTION",
        nargs="?",
        choices=("run", "show", "retry", "drop"),
        help="run (the default), show, retry or drop set-aside records",
    )
    replay.add_argument("ids", metavar="ID", nargs="*", help="dead-letter ids (from show)")
    replay.add_argument("--all", action="store_true", help="retry or drop every dead letter")
    _yes_flag(replay)
    _json_flag(replay, "print the replay report (or, with show, the records) as JSON")

    importing_parser = _command(
        commands,
        "import",
        importing.import_state,
        "bring state over from RedisStorage, PicklePersistence or starsessions",
        "Copy existing bot or web-session state into the store: aiogram RedisStorage keys "
        "(SOURCE a Redis URL), a python-telegram-bot PicklePersistence file, or a "
        "starsessions Redis store. A dry run unless --apply; never changes the source; "
        "records the store already holds are left as they are, so running it again is safe.",
        examples=[
            "sessionkit import aiogram-redis redis://localhost:6379/0 --bot-id 123 "
            "--url sqlite:///bot.db",
            "sessionkit import ptb-pickle bot.pickle --namespace 123 --url sqlite:///bot.db "
            "--apply",
            "sessionkit import starsessions redis://localhost:6379/0 --url redis://new:6379/0",
        ],
    )
    importing.add_arguments(importing_parser)
    return parser


def _run(args: argparse.Namespace) -> int:
    with cli_logging(args.verbose + args.verbose_after):
        try:
            return int(args.handler(args))
        except NotFound as error:
            say(f"sessionkit: {error}")
            return EXIT_NOT_FOUND
        except StoreUnavailable as error:
            say(f"sessionkit: store unavailable: {error}")
            return EXIT_UNAVAILABLE
        except ConfigurationError as error:
            say(f"sessionkit: configuration error: {error}")
            return EXIT_FAILED
        except SessionKitError as error:
            say(f"sessionkit: error: {error}")
            return EXIT_FAILED


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        code = _run(args)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader left (`| head`): end quietly, as the Python docs advise, pointing
        # stdout at devnull so the interpreter's final flush does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    return code
