"""The commands that change a store: ``purge``, ``delete``, ``sweep``, ``migrate``,
``replay``, and ``demo``.

``purge``, ``delete`` and ``sweep`` act on what exists, so like the read-only commands
they never create a database or table; ``migrate`` and ``replay`` do, by design.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from ..manager import SessionManager
from ..presets.demo import DEFAULT_DEMO_URL, run_demo
from ..registry import redact_url
from ..resilience import WithFallback
from ..resilience.journal import Journal, read_dead_letters
from ..stamped import DEFAULT_TOMBSTONE_TTL
from ._common import (
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_UNAVAILABLE,
    URL_VARIABLE,
    open_for,
    options,
    print_json,
    refuse_unconfirmed,
    say,
    url,
)
from ._progress import progress


def demo(args: argparse.Namespace) -> int:
    run_demo(getattr(args, "url", None) or os.environ.get(URL_VARIABLE) or DEFAULT_DEMO_URL)
    return EXIT_OK


def _purge_scope(namespace: str | None, tenant: str | None) -> str:
    if namespace is None and tenant is None:
        return "every session"
    what = "every session" if namespace is None else f"the sessions of namespace {namespace!r}"
    if tenant is None:
        return f"{what} in every tenant" if namespace is not None else what
    return f"{what} of tenant {tenant!r}"


def purge(args: argparse.Namespace) -> int:
    if args.all and (args.namespace or args.tenant):
        args.parser.error("--all purges everything: do not combine it with --namespace/--tenant")
    if not (args.all or args.namespace or args.tenant):
        args.parser.error("say what to purge: --namespace NAME, --tenant ID, or --all")
    namespace, tenant = args.namespace, args.tenant
    _, store = open_for(args, read_only=True)
    with SessionManager(store, sweep_interval=None) as manager:
        # Count with the manager's own rule (namespace sessions only, never the
        # integrations' "~" keys), so the number confirmed is the number purged.
        per_namespace: dict[str, int] = {}
        for (tenant_id, name), count in manager.stats().counts.items():
            if (namespace is None or name == namespace) and (tenant is None or tenant_id == tenant):
                per_namespace[name] = per_namespace.get(name, 0) + count
        planned = sum(per_namespace.values())
        scope = _purge_scope(namespace, tenant)
        where = redact_url(url(args))
        if not planned:
            print(f"nothing to purge: no sessions match ({scope}) in {where}")
            return EXIT_OK
        refused = refuse_unconfirmed(args, f"{planned} sessions ({scope})", where)
        if refused is not None:
            return refused
        removed = 0
        with progress("purging", total=planned) as bar:
            for name in sorted(per_namespace):  # one namespace at a time, for the counts
                done = manager.purge(namespace=name, tenant=tenant)
                removed += done
                bar.update(done)
    print(f"purged {removed} sessions ({scope}) from {where}")
    return EXIT_OK


def delete(args: argparse.Namespace) -> int:
    _, store = open_for(args, read_only=True)
    where = redact_url(url(args))
    with store:
        if not store.exists(args.key):
            say(f"sessionkit: no session under key {args.key!r} in {where}")
            return EXIT_NOT_FOUND
        refused = refuse_unconfirmed(args, f"the session {args.key!r}", where)
        if refused is not None:
            return refused
        deleted = store.delete(args.key)
    print(f"deleted {args.key!r} from {where}" if deleted else f"{args.key!r} was already gone")
    return EXIT_OK


def sweep(args: argparse.Namespace) -> int:
    _, store = open_for(args, read_only=True)
    with store, progress("sweeping expired sessions") as bar:
        removed = store.sweep()
        bar.update(removed)
    print(f"swept {removed} expired sessions from {redact_url(url(args))}")
    return EXIT_OK


def migrate(args: argparse.Namespace) -> int:
    bare, _ = open_for(args, read_only=False)
    with bare:
        create_schema: Callable[[], None] | None = getattr(bare, "create_schema", None)
        if create_schema is None:
            print(f"nothing to migrate: {type(bare).__name__} keeps no schema")
            return EXIT_OK
        create_schema()
        table = getattr(getattr(bare, "table", None), "name", None)
    print(f"schema ready{f': table {table}' if table else ''} in {redact_url(url(args))}")
    return EXIT_OK


def _journal_records(journal: Path) -> int:
    with journal.open("rb") as lines:
        return sum(1 for _ in lines)


#: The environment variable the ``replay`` command reads a ``journal_key`` from.
JOURNAL_KEY_VARIABLE = "SESSIONKIT_JOURNAL_KEY"


def _journal_key() -> str | None:
    return os.environ.get(JOURNAL_KEY_VARIABLE) or None


def _chosen_ids(args: argparse.Namespace) -> list[str] | None:
    if args.all and args.ids:
        args.parser.error("--all takes every dead letter: do not combine it with IDs")
    if not (args.all or args.ids):
        args.parser.error(f"say which dead letters to {args.action}: ID ... or --all")
    return None if args.all else list(args.ids)


def _show_dead_letters(args: argparse.Namespace, journal: Path) -> int:
    letters = read_dead_letters(journal, journal_key=_journal_key())
    if args.json:
        print_json(
            [
                {
                    "id": letter.id,
                    "reason": letter.reason,
                    "set_aside_at": letter.set_aside_at,
                    "record": None if letter.record is None else letter.record.to_obj(),
                    "raw": None if letter.raw is None else letter.raw.decode(errors="replace"),
                }
                for letter in letters
            ]
        )
        return EXIT_OK
    if not letters:
        print(f"no records set aside for {str(journal)!r}")
        return EXIT_OK
    for letter in letters:
        when = datetime.fromtimestamp(letter.set_aside_at, timezone.utc).isoformat(
            timespec="seconds"
        )
        record = letter.record
        what = "damaged line" if record is None else f"{record.op} {record.key or '(set_many)'}"
        print(f"{letter.id}  {when}  {what}  {letter.reason}")
    return EXIT_OK


def _drop_dead_letters(args: argparse.Namespace, journal: Path) -> int:
    ids = _chosen_ids(args)
    present = read_dead_letters(journal, journal_key=_journal_key())
    count = len(present) if ids is None else sum(letter.id in ids for letter in present)
    if not count:
        say("sessionkit: no such dead letter (sessionkit replay JOURNAL show lists them)")
        return EXIT_NOT_FOUND
    refused = refuse_unconfirmed(args, f"{count} set-aside records", str(journal))
    if refused is not None:
        return refused
    owner = Journal(journal, journal_key=_journal_key())
    try:
        dropped = owner.drop_dead_letters(ids)
    finally:
        owner.close()
    print(f"dropped {dropped} set-aside records of {str(journal)!r}")
    return EXIT_OK


def replay(args: argparse.Namespace) -> int:
    journal = Path(args.journal)
    action = args.action or "run"
    if action == "show":
        return _show_dead_letters(args, journal)
    if action == "drop":
        return _drop_dead_letters(args, journal)
    if not journal.is_file():  # WithFallback would create it: say so instead
        say(f"sessionkit: no journal file at {str(journal)!r}")
        return EXIT_NOT_FOUND
    ids = _chosen_ids(args) if action == "retry" else None
    _, store = open_for(args, read_only=False)
    fallback = WithFallback(
        store,
        journal,
        default_ttl=options(args).get("default_ttl"),
        journal_key=_journal_key(),
        # The operator's retry replays what max_replay_age set aside; no background replay.
        max_replay_age=None if action == "retry" else DEFAULT_TOMBSTONE_TTL,
        replay_interval=None,
    )
    with fallback:
        if action == "retry":
            moved = fallback.journal.retry_dead_letters(ids)
            if not moved:
                say("sessionkit: no such dead letter (sessionkit replay JOURNAL show lists them)")
                return EXIT_NOT_FOUND
            say(f"sessionkit: {moved} set-aside records put back in the journal")
        with progress(f"replaying {journal.name}", _journal_records(journal), "records") as bar:
            report = fallback.replay()
            bar.update(report.applied + report.conflicts + report.rejected)
        dead = len(fallback.journal.dead_letters())
    summary = {
        "applied": report.applied,
        "superseded": report.superseded,
        "conflicts": report.conflicts,
        "rejected": report.rejected,
        "damaged_lines": len(report.damaged),
        "completed": report.completed,
        "busy": report.busy,
        "set_aside": dead,
    }
    if args.json:
        print_json(summary)
    if report.busy:
        say("sessionkit: another replay holds this journal; try again when it ends")
        return EXIT_UNAVAILABLE
    if not report.completed:
        say(
            f"sessionkit: the store failed during the replay after {report.applied} records; "
            "the rest stays in the journal: run replay again when the store answers"
        )
        return EXIT_UNAVAILABLE
    if not args.json:
        print(
            f"replayed {report.applied} records into {redact_url(url(args))} "
            f"({report.superseded} superseded by newer writes, "
            f"{report.conflicts} conflicts, {report.rejected} rejected, "
            f"{len(report.damaged)} damaged lines skipped); the journal is now empty"
        )
    if dead:
        say(
            f"sessionkit: {dead} records are set aside in {journal.name}.dead: "
            f"sessionkit replay {str(journal)!r} show (then retry or drop)"
        )
    return EXIT_OK
