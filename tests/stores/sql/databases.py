"""What the SQL store tests share: the three databases, their URLs and a fresh table name
(the ``database`` and ``raw`` fixtures are in conftest.py)."""

from __future__ import annotations

import uuid
from pathlib import Path

from tests.backends.sql import (
    MARIADB_SERVER,
    MARIADB_URL,
    POSTGRES_SERVER,
    POSTGRES_URL,
    SYNC_URLS,
    remember_table,
    table_name_for,
)

SERVERS: dict[str, tuple[str, str, int] | None] = {
    "sqlite": None,
    "postgresql": POSTGRES_SERVER,
    "mariadb": MARIADB_SERVER,
}
# A synchronous engine URL per database, for looking at rows behind the store's back.
RAW_URLS = {"postgresql": SYNC_URLS[POSTGRES_URL], "mariadb": SYNC_URLS[MARIADB_URL]}


def store_url(database: str, tmp_path: Path) -> str:
    if database == "sqlite":
        return f"sqlite:///{tmp_path}/sessions.db"
    return {"postgresql": POSTGRES_URL, "mariadb": MARIADB_URL}[database]


def raw_url(database: str, tmp_path: Path) -> str:
    return store_url(database, tmp_path) if database == "sqlite" else RAW_URLS[database]


def new_table(database: str) -> str:
    """A fresh table name, dropped at the end of the run on the servers."""
    name = table_name_for(uuid.uuid4().hex[:12])
    if database != "sqlite":
        remember_table(store_url(database, Path()), name)
    return name
