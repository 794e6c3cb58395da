"""The ``sessionkit`` command line.

Each subcommand is one function taking the parsed arguments and returning an exit code:
0 success, 1 the operation failed (a message on stderr), 2 bad usage (argparse's own).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import __version__
from .demo import DEFAULT_DEMO_URL, run_demo
from .errors import SessionKitError

__all__ = ["main"]


def _demo(args: argparse.Namespace) -> int:
    run_demo(args.url)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sessionkit",
        description="Server-side session state: inspect and manage sessionkit stores.",
    )
    parser.add_argument("--version", action="version", version=f"sessionkit {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser(
        "demo",
        help="run a document workflow (template -> document -> extraction -> cancellation)",
        description="Run seed 000's document workflow on a store and print what it stored.",
    )
    demo.add_argument(
        "--url", default=DEFAULT_DEMO_URL, help=f"store URL (default: {DEFAULT_DEMO_URL})"
    )
    demo.set_defaults(handler=_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except SessionKitError as error:
        print(f"sessionkit: error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
