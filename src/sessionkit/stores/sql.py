"""The SQL store: SQLite (embedded default), PostgreSQL and MariaDB/MySQL, sync and async.

``metadata`` holds the default ``sessionkit_sessions`` table, for Alembic's
``target_metadata``, with its tombstones table (``sessionkit_sessions_tombstones``);
`session_table` and `tombstone_table` build the same tables under another name.

The async store is imported on first use: importing this module (for ``metadata`` or the
sync store) loads neither SQLAlchemy's asyncio layer nor greenlet nor an async driver.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._sql.schema import (
    DEFAULT_TABLE_NAME,
    metadata,
    session_table,
    tombstone_table,
    tombstone_table_name,
)
from ._sync.sql import SQLStore

if TYPE_CHECKING:
    from ._async.sql import AsyncSQLStore

__all__ = [
    "DEFAULT_TABLE_NAME",
    "AsyncSQLStore",
    "SQLStore",
    "metadata",
    "session_table",
    "tombstone_table",
    "tombstone_table_name",
]


def __getattr__(name: str) -> Any:
    if name == "AsyncSQLStore":
        from ._async.sql import AsyncSQLStore  # noqa: PLC0415 (deferred on purpose)

        return AsyncSQLStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
