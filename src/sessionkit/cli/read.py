"""The read-only commands: ``stats``, ``keys``, ``get``, ``inspect``.

They never write: pointed at a missing SQLite file or session table they say so and exit
5, leaving nothing behind (see ``open_for``).
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import datetime, timezone
from typing import Any

from ..manager import SessionManager, SessionStats
from ..namespaces.keyspace import parse_key
from ..registry import redact_url
from ._common import EXIT_NOT_FOUND, EXIT_OK, open_for, print_json, say, url


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


def stats(args: argparse.Namespace) -> int:
    _, store = open_for(args, read_only=True)
    with SessionManager(store, sweep_interval=None) as manager:
        report = stats_report(manager.stats())
    if args.json:
        print_json(report)
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


def keys(args: argparse.Namespace) -> int:
    _, store = open_for(args, read_only=True)
    with store:
        found = list(store.scan(args.prefix)) if args.json else None
        if found is not None:
            print_json(found)
        else:
            for key in store.scan(args.prefix):
                print(key)
    return EXIT_OK


def inspect_document(
    key: str, value: dict[str, Any], version: int, expires_at: float | None, now: float
) -> dict[str, Any]:
    """``get``'s (and ``inspect --json``'s) document for one entry."""
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


def _entry_document(args: argparse.Namespace) -> dict[str, Any] | None:
    _, store = open_for(args, read_only=True)
    with store:
        entry = store.get_entry(args.key)  # logged by the Observed wrapper as a digest
    if entry is None:
        say(f"sessionkit: no session under key {args.key!r} in {redact_url(url(args))}")
        return None
    return inspect_document(args.key, entry.value, entry.version, entry.expires_at, time.time())


def get(args: argparse.Namespace) -> int:
    document = _entry_document(args)
    if document is None:
        return EXIT_NOT_FOUND
    print_json(document)
    return EXIT_OK


def inspect(args: argparse.Namespace) -> int:
    document = _entry_document(args)
    if document is None:
        return EXIT_NOT_FOUND
    if args.json:
        print_json(document)
        return EXIT_OK
    for field in ("key", "tenant", "namespace", "id", "version", "expires_at", "ttl_seconds"):
        if document[field] is not None:
            print(f"{field + ':':<12} {document[field]}")
    print("value:")
    print(json.dumps(document["value"], indent=2, ensure_ascii=False, sort_keys=True))
    return EXIT_OK
