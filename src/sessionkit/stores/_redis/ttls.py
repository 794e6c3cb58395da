"""TTLs in Redis's units: PX milliseconds out, PTTL answers back."""

from __future__ import annotations

import math

from ...entry import TTL, InvalidTTL, to_seconds

__all__ = ["expires_at_from", "remaining_from_pttl", "ttl_ms"]

# Redis rejects expiry instants past the signed 64-bit millisecond range; far below that, a
# TTL of ~31,700 years is treated as the longest that makes sense.
_MAX_TTL_MS = 10**15


def ttl_ms(ttl: TTL | None, default_seconds: float | None) -> int:
    """Milliseconds for PX (``ttl``, else the default); 0 means no expiry."""
    seconds = to_seconds(ttl) if ttl is not None else default_seconds
    if seconds is None:
        return 0
    # round, not ceil: 0.4 s is 400 ms even though 0.4 * 1000 is 400.00000000000006
    milliseconds = max(1, round(seconds * 1000))
    if milliseconds > _MAX_TTL_MS:
        raise InvalidTTL(f"a TTL of {ttl!r} is longer than Redis can keep ({_MAX_TTL_MS} ms)")
    return milliseconds


def remaining_from_pttl(pttl: int) -> float | None:
    """PTTL's answer as the contract's ``ttl()``: None if absent, inf if it never expires."""
    if pttl == -2:
        return None
    if pttl == -1:
        return math.inf
    return pttl / 1000


def expires_at_from(pttl: int, seconds: bytes, microseconds: bytes) -> float | None:
    """The expiry instant (epoch seconds, by the server's clock) from GET_ENTRY's answer."""
    if pttl < 0:
        return None
    return int(seconds) + int(microseconds) / 1_000_000 + pttl / 1000
