# Generated from tests/resilience/_async/conftest.py by scripts/unasync.py: edit that file, not this one.
"""Every fallback store a test of this folder opened (`opened.OPENED`) is closed after it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.resilience._sync.opened import close_opened


@pytest.fixture(autouse=True)
def close_opened_stores() -> Iterator[None]:
    yield
    close_opened()
