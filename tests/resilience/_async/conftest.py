"""Every fallback store a test of this folder opened (`opened.OPENED`) is closed after it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.resilience._async.opened import close_opened


@pytest.fixture(autouse=True)
async def close_opened_stores() -> AsyncIterator[None]:
    yield
    await close_opened()
