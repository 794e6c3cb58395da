"""The ``database`` fixture (each of the three databases whose server answers) and ``raw``
(a plain engine on it, for looking at rows behind the store's back)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.servers import require_server
from tests.stores.sql.databases import SERVERS, raw_url


@pytest.fixture(params=sorted(SERVERS))
def database(request: pytest.FixtureRequest) -> str:
    server = SERVERS[request.param]
    if server is not None:
        require_server(*server)
    return str(request.param)


@pytest.fixture
def raw(database: str, tmp_path: Path) -> Iterator[sa.Engine]:
    engine = sa.create_engine(raw_url(database, tmp_path))
    yield engine
    engine.dispose()
