"""``sessionkit import``: bring state over from aiogram's RedisStorage, a PTB
PicklePersistence file or a starsessions Redis store (a dry run unless ``--apply``)."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

import attrs

from ..registry import open_async_store, redact_url
from ._common import EXIT_OK, options, print_json, url

SOURCES = ("aiogram-redis", "ptb-pickle", "starsessions")


async def _run(args: argparse.Namespace) -> Any:
    store = open_async_store(url(args), **options(args))
    try:
        if args.source_kind == "ptb-pickle":
            from ..integrations.importers import import_ptb_pickle  # noqa: PLC0415
            from ..integrations.telegram import SessionkitPersistence  # noqa: PLC0415

            if args.namespace is None:
                raise SystemExit("sessionkit import ptb-pickle needs --namespace (the bot id)")
            persistence = SessionkitPersistence(
                store, namespace=args.namespace, allowed_paths=args.allow
            )
            return await import_ptb_pickle(args.source, persistence, apply=args.apply)
        from redis.asyncio import Redis  # noqa: PLC0415

        source = Redis.from_url(args.source)
        try:
            if args.source_kind == "aiogram-redis":
                from ..integrations.aiogram import SessionkitStorage  # noqa: PLC0415
                from ..integrations.importers import import_aiogram_redis  # noqa: PLC0415

                return await import_aiogram_redis(
                    source,
                    SessionkitStorage(store),
                    source_prefix=args.source_prefix or "fsm",
                    with_bot_id=args.with_bot_id,
                    with_business_connection_id=args.with_business_connection_id,
                    with_destiny=args.with_destiny,
                    bot_id=args.bot_id,
                    apply=args.apply,
                )
            from ..integrations.starsessions_import import (  # noqa: PLC0415
                import_starsessions,
            )

            return await import_starsessions(
                source, store, source_prefix=args.source_prefix or "starsessions.", apply=args.apply
            )
        finally:
            await source.aclose()
    finally:
        await store.close()


def import_state(args: argparse.Namespace) -> int:
    report = asyncio.run(_run(args))
    counts = attrs.asdict(report)
    if args.json:
        print_json(counts)
        return EXIT_OK
    verb = "imported" if args.apply else "dry run: would import"
    details = ", ".join(
        f"{value} {name.replace('_', ' ')}"
        for name, value in counts.items()
        if name not in ("found", "imported", "dry_run", "problems") and value
    )
    print(
        f"{verb} {counts['imported']} of {counts['found']} records into "
        f"{redact_url(url(args))}" + (f" ({details})" if details else "")
    )
    for problem in counts.get("problems", ()):
        print(f"  skipped: {problem}")
    if not args.apply:
        print("nothing was written: run again with --apply to write")
    return EXIT_OK


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source_kind", choices=SOURCES, metavar="KIND", help=", ".join(SOURCES))
    parser.add_argument(
        "source", metavar="SOURCE", help="the source's Redis URL, or the pickle file"
    )
    parser.add_argument("--apply", action="store_true", help="write (the default is a dry run)")
    parser.add_argument("--source-prefix", help="the source's key prefix (fsm, starsessions.)")
    parser.add_argument("--with-bot-id", action="store_true", help="aiogram: keys have bot ids")
    parser.add_argument("--with-destiny", action="store_true", help="aiogram: keys have destinies")
    parser.add_argument(
        "--with-business-connection-id",
        action="store_true",
        help="aiogram: keys have business connection ids",
    )
    parser.add_argument("--bot-id", type=int, help="aiogram: the bot id, if the keys lack it")
    parser.add_argument("--namespace", help="ptb-pickle: the persistence namespace (bot id)")
    parser.add_argument(
        "--allow",
        action="append",
        default=[],
        metavar="PATH",
        help="ptb-pickle: an import path whose Enum/dataclass/attrs classes may be stored",
    )
    parser.add_argument("--json", action="store_true", help="print the counts as JSON")
