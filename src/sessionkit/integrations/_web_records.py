"""How a cookie session is laid out in a store entry (shared by the middleware and importers).

One entry per session, under ``key_prefix`` + the SHA-256 of the session id::

    {"~created": 1767225600.0, ".user": ["ana"], ".cart": [["apple"]], ".gone": null}

Each session key ``k`` is its own top-level field ``".k"`` holding ``[value]``, so a
request's changes are one `merge` of the changed fields (one round trip on Redis, and
two requests changing different keys both keep their change). A removed key is written as
``null`` (a tombstone; the list wrapper keeps a stored ``None`` apart from it) and dropped
when the entry is next written whole (a rotation). ``"~created"`` is written only when the
session is created: an entry without it is what a merge leaves when it lands on a session
that a concurrent request deleted, and is never adopted.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from ..errors import SerializationError

__all__ = [
    "CREATED",
    "ISSUED_ID",
    "KNOWN_ID",
    "new_record",
    "patch_fields",
    "record_data",
    "session_key",
]

CREATED = "~created"
_FIELD = "."

#: The ids this middleware issues: secrets.token_urlsafe(32), 43 url-safe characters.
ISSUED_ID = re.compile(r"[A-Za-z0-9_-]{43}")
#: The ids it accepts: its own, and starsessions' secrets.token_hex(16) (128 bits), so that
#: imported sessions keep their cookies. An id the store does not hold is never adopted.
KNOWN_ID = re.compile(r"[A-Za-z0-9_-]{43}|[0-9a-f]{32}")


def session_key(key_prefix: str, session_id: str) -> str:
    """The store key of a session id (its hash: ids are not readable from the store)."""
    return key_prefix + hashlib.sha256(session_id.encode()).hexdigest()


def _field(name: object) -> str:
    if not isinstance(name, str):
        raise SerializationError(
            f"session keys are strings, not {type(name).__name__} ({name!r}): "
            "JSON would turn it into a string without a word"
        )
    return _FIELD + name


def new_record(data: dict[str, Any], created_at: float) -> dict[str, Any]:
    """The whole entry of a session holding ``data``."""
    record: dict[str, Any] = {CREATED: created_at}
    for name, value in data.items():
        record[_field(name)] = [value]
    return record


def patch_fields(changed: dict[str, Any], removed: list[str]) -> dict[str, Any]:
    """The merge patch writing ``changed`` and tombstoning ``removed``."""
    patch: dict[str, Any] = {_field(name): [value] for name, value in changed.items()}
    patch.update((_field(name), None) for name in removed)
    return patch


def record_data(record: dict[str, Any]) -> tuple[dict[str, Any], float] | None:
    """(session data, creation time) of an entry, or ``None`` if it is no live session."""
    created = record.get(CREATED)
    if isinstance(created, bool) or not isinstance(created, int | float):
        return None
    data = {
        name[1:]: wrapped[0]
        for name, wrapped in record.items()
        if name.startswith(_FIELD) and isinstance(wrapped, list) and len(wrapped) == 1
    }
    return data, float(created)
