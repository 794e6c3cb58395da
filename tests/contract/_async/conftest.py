from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.backends import SPECS, WRAPPED_SPECS
from tests.contract._async.harness import AsyncHarness, close_harness, open_harness


@pytest.fixture(params=sorted(SPECS) + sorted(WRAPPED_SPECS))
async def harness(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncHarness]:
    h = await open_harness({**SPECS, **WRAPPED_SPECS}[request.param], tmp_path)
    yield h
    await close_harness(h)
