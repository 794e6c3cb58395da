"""The SQL store: SQLite (embedded default), PostgreSQL and MariaDB/MySQL, sync and async.

``metadata`` holds the default ``sessionkit_sessions`` table, for Alembic's
``target_metadata``; :func:`session_table` builds the same table under another name.
"""

from ._async.sql import AsyncSQLStore
from ._sql_common import DEFAULT_TABLE_NAME, metadata, session_table
from ._sync.sql import SQLStore

__all__ = ["DEFAULT_TABLE_NAME", "AsyncSQLStore", "SQLStore", "metadata", "session_table"]
