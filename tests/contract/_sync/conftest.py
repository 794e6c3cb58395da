# Generated from tests/contract/_async/conftest.py by scripts/unasync.py: edit that file, not this one.
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.backends import SPECS, WRAPPED_SPECS
from tests.contract._sync.harness import Harness, close_harness, open_harness


@pytest.fixture(params=sorted(SPECS) + sorted(WRAPPED_SPECS))
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    h = open_harness({**SPECS, **WRAPPED_SPECS}[request.param], tmp_path)
    yield h
    close_harness(h)
