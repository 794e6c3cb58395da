"""Redis store tests."""

from __future__ import annotations

import re

_STAMPED = re.compile(rb"(sk1:\d+:)s\d+:")


def unstamped(raw: bytes | None) -> bytes:
    """A stored envelope without its write stamp (which changes with the clock); fails the
    test if the envelope has none."""
    assert raw is not None
    found = _STAMPED.match(raw)
    assert found is not None, f"no write stamp in {raw!r}"
    return found.group(1) + raw[found.end() :]
