# Generated from tests/resilience/_async/opened.py by scripts/unasync.py: edit that file, not this one.
"""The fallback stores a test opened: this folder's conftest closes them after each test."""

from __future__ import annotations

from sessionkit.resilience import WithFallback

OPENED: list[WithFallback] = []


def close_opened() -> None:
    while OPENED:
        OPENED.pop().close()  # closing twice is a no-op
