"""The ``database`` fixture (each of the three databases whose server answers), ``raw``
(a plain engine on it, for looking at rows behind the store's back) and ``bouncer_port``
(a PgBouncer in transaction mode in front of PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.backends.sql import POSTGRES_SERVER
from tests.servers import IN_CI, require_server
from tests.sql_helpers import PGBOUNCER, pgbouncer
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


@pytest.fixture
def bouncer_port() -> Iterator[int]:
    """PgBouncer with one server connection, which every client shares: exactly when
    prepared statements would leak from one client to the next."""
    require_server(*POSTGRES_SERVER)
    if PGBOUNCER is None:
        reason = "pgbouncer is not installed (apt-get install -y pgbouncer)"
        if IN_CI:  # .ci/run installs it: a CI run must not pass by skipping
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    with pgbouncer(pool_size=1) as port:
        yield port
