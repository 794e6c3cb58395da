"""Database and connection errors as sessionkit's typed errors."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import exc as sa_exc

from ...errors import ConfigurationError, StoreUnavailable
from .schema import tombstone_table_name

__all__ = [
    "MAPPED_ERRORS",
    "AppFunctionError",
    "configuration_problem",
    "is_already_exists",
    "is_duplicate_key",
    "is_retryable",
    "mapped_errors",
    "run_app_function",
    "translate",
]

# Exceptions that mean "could not talk to the database" when a driver raises them raw
# (asyncpg's connect raises OSError, an asyncio timeout is not an OSError before 3.11).
_CONNECTION_ERRORS: tuple[type[BaseException], ...] = (OSError, TimeoutError, asyncio.TimeoutError)

MAPPED_ERRORS: tuple[type[BaseException], ...] = (sa_exc.SQLAlchemyError, *_CONNECTION_ERRORS)

# SQLSTATE / MySQL error codes that mean "a concurrent transaction got in the way: retry".
_PG_RETRYABLE = {"40001", "40P01"}  # serialization_failure, deadlock_detected
_MYSQL_RETRYABLE = {1213}  # ER_LOCK_DEADLOCK
# Errors PyMySQL files under OperationalError that mean "the table is not what we expect":
# unknown column, no default for a NOT NULL column, incorrect value, data too long.
_MYSQL_SCHEMA_ERRORS = {1054, 1364, 1366, 1406}
# duplicate_prepared_statement, invalid_sql_statement_name ("... does not exist")
_PG_PREPARED_STATEMENT_CLASH = {"42P05", "26000"}
_MYSQL_DUPLICATE_KEY = 1062
_MYSQL_TABLE_EXISTS = 1050
_MYSQL_DUPLICATE_INDEX = 1061


def _driver_codes(error: BaseException) -> set[Any]:
    """The SQLSTATE and, on MySQL, the error number of a driver error (PyMySQL has both)."""
    original = getattr(error, "orig", error)
    codes = {getattr(original, name, None) for name in ("sqlstate", "pgcode")}
    args = getattr(original, "args", ())
    if args and isinstance(args[0], int):
        codes.add(args[0])
    codes.discard(None)
    return codes


def _message(error: BaseException) -> str:
    return str(getattr(error, "orig", error)).lower()


def is_retryable(error: BaseException) -> bool:
    """A deadlock or serialization failure: the transaction may simply be run again."""
    if not isinstance(error, sa_exc.DBAPIError):
        return False
    if _driver_codes(error) & (_PG_RETRYABLE | _MYSQL_RETRYABLE):
        return True
    # asyncpg names its exception classes, not always a sqlstate attribute.
    name = type(getattr(error, "orig", error)).__name__
    return name in ("DeadlockDetectedError", "SerializationError")


def is_duplicate_key(error: BaseException) -> bool:
    return isinstance(error, sa_exc.IntegrityError) and (
        bool(_driver_codes(error) & {"23505", _MYSQL_DUPLICATE_KEY})
        or "unique" in _message(error)
        or "duplicate" in _message(error)
    )


def is_already_exists(error: BaseException) -> bool:
    """A concurrent or earlier CREATE of the same table or index."""
    if not isinstance(error, sa_exc.DBAPIError):
        return False
    codes = _driver_codes(error)
    if codes & {_MYSQL_TABLE_EXISTS, _MYSQL_DUPLICATE_INDEX, "42P07", "42710"}:
        return True
    # Two PostgreSQL sessions creating one table race on a catalog's unique index
    # (pg_type, pg_class): the other one made it.
    message = _message(error)
    return ("23505" in codes and '"pg_' in message) or "already exists" in message


def _is_missing_table(error: BaseException) -> bool:
    message = _message(error)
    return bool(_driver_codes(error) & {"42P01", 1146}) or "no such table" in message or (
        "relation" in message and "does not exist" in message
    )


# Refusals that waiting cannot fix: the URL, the credentials, the grants or the TLS files
# are wrong. What each one says to the operator.
_AUTHENTICATION = "the database refused the credentials (a wrong password or user name)"
_UNKNOWN_DATABASE = "no such database on the server"
_UNKNOWN_ROLE = "no such role (user) on the server"
_PERMISSION = "the database user lacks a permission the store needs"
_TLS = "TLS is misconfigured (a certificate or key file, or the server's TLS support)"
_DRIVER_OPTION = "the driver does not take an option of the URL"
_PG_CONFIGURATION = {
    "28P01": _AUTHENTICATION,  # invalid_password
    "28000": _UNKNOWN_ROLE,  # invalid_authorization_specification (no such role, pg_hba)
    "3D000": _UNKNOWN_DATABASE,  # invalid_catalog_name
    "3F000": _UNKNOWN_DATABASE,  # invalid_schema_name
    "42501": _PERMISSION,  # insufficient_privilege
}
_MYSQL_CONFIGURATION = {
    1044: _PERMISSION,  # ER_DBACCESS_DENIED_ERROR: no grant on the database
    1045: _AUTHENTICATION,  # ER_ACCESS_DENIED_ERROR
    1049: _UNKNOWN_DATABASE,  # ER_BAD_DB_ERROR
    1142: _PERMISSION,  # ER_TABLEACCESS_DENIED_ERROR
    1143: _PERMISSION,  # ER_COLUMNACCESS_DENIED_ERROR
    1227: _PERMISSION,  # ER_SPECIFIC_ACCESS_DENIED_ERROR
    1251: _AUTHENTICATION,  # ER_NOT_SUPPORTED_AUTH_MODE
    1698: _AUTHENTICATION,  # ER_ACCESS_DENIED_NO_PASSWORD_ERROR
    1820: _AUTHENTICATION,  # ER_MUST_CHANGE_PASSWORD
    1862: _AUTHENTICATION,  # ER_MUST_CHANGE_PASSWORD_LOGIN (expired)
    2026: _TLS,  # CR_SSL_CONNECTION_ERROR
    3118: _AUTHENTICATION,  # ER_ACCOUNT_HAS_BEEN_LOCKED (MySQL)
    3159: _TLS,  # ER_SECURE_TRANSPORT_REQUIRED
    4151: _AUTHENTICATION,  # ER_ACCOUNT_HAS_BEEN_LOCKED (MariaDB)
}
# libpq reports a refused connection in words only (psycopg has no SQLSTATE for it).
_LIBPQ_CONFIGURATION = (
    ("password authentication failed", _AUTHENTICATION),
    ("no password supplied", _AUTHENTICATION),
    ("no pg_hba.conf entry", _AUTHENTICATION),
    ("permission denied", _PERMISSION),
    ("ssl was required", _TLS),
    ("certificate", _TLS),
    ("private key", _TLS),
    ("sslmode", _TLS),
    ("invalid connection option", _DRIVER_OPTION),
    # SQLite: the file's directory does not exist, or the file or directory is read-only.
    ("unable to open database file", "the SQLite database file cannot be opened"),
    ("readonly database", _PERMISSION),
)


def configuration_problem(error: BaseException) -> str | None:
    """What is misconfigured, when a database or connection error says so; else None."""
    if isinstance(error, (FileNotFoundError, IsADirectoryError, NotADirectoryError)):
        return f"{_TLS}: a file the URL names cannot be read"  # ssl_ca=, sslrootcert=, ...
    if isinstance(error, ssl.SSLCertVerificationError) or (
        isinstance(error, ssl.SSLError) and getattr(error, "library", None) in ("PEM", "X509")
    ):
        return _TLS
    if isinstance(error, ConnectionError) and "rejected ssl upgrade" in str(error).lower():
        return _TLS  # asyncpg: TLS required, and the server has none
    if isinstance(error, TypeError) and "unexpected keyword argument" in str(error):
        return _DRIVER_OPTION
    if not isinstance(error, sa_exc.DBAPIError):
        return None
    original = error.orig if error.orig is not None else error
    if isinstance(original, BaseException) and original is not error:
        nested = configuration_problem(original)
        if nested is not None:
            return nested
    codes = _driver_codes(error)
    # MySQL's error number first: its SQLSTATE (28000 for a wrong password) is coarser.
    for code in sorted(codes & _MYSQL_CONFIGURATION.keys()):
        return _MYSQL_CONFIGURATION[code]
    for code in sorted(codes & _PG_CONFIGURATION.keys()):
        return _PG_CONFIGURATION[code]
    message = _message(error)
    if "does not exist" in message:
        if 'role "' in message:
            return _UNKNOWN_ROLE
        if 'database "' in message:
            return _UNKNOWN_DATABASE
    if isinstance(error, (sa_exc.OperationalError, sa_exc.InterfaceError)) or (
        isinstance(error, sa_exc.ProgrammingError) and "connection" in message
    ):
        for words, problem in _LIBPQ_CONFIGURATION:
            if words in message:
                return problem
    return None


def translate(error: BaseException, table_name: str) -> Exception | None:
    """The sessionkit error for a database or connection error, or None to re-raise it."""
    problem = configuration_problem(error)
    if problem is not None:
        original = getattr(error, "orig", None) or error
        return ConfigurationError(
            f"{problem}: {_first_line(original)} (fix the URL, the credentials or the grants: "
            "retrying will not help)"
        )
    if isinstance(error, sa_exc.DBAPIError):
        if _driver_codes(error) & _PG_PREPARED_STATEMENT_CLASH:
            return ConfigurationError(
                "the server lost or mixed up prepared statements: a pooler in transaction "
                "mode (PgBouncer, Supavisor) sits in front of PostgreSQL; open the store "
                f"with pgbouncer=True ({_first_line(error.orig or error)})"
            )
        if _is_missing_table(error):
            # The tombstones table, if the database names it (new in an upgrade).
            tombstones = tombstone_table_name(table_name)
            missing = tombstones if tombstones in str(error.orig) else table_name
            return ConfigurationError(
                f"table {missing!r} does not exist: call create_schema(), run "
                f"'sessionkit migrate URL', or apply your Alembic migration ({error.orig})"
            )
        schema_error_types = (
            sa_exc.IntegrityError,
            sa_exc.DataError,
            sa_exc.ProgrammingError,
            sa_exc.NotSupportedError,
        )
        if isinstance(error, schema_error_types) or _driver_codes(error) & _MYSQL_SCHEMA_ERRORS:
            return ConfigurationError(
                f"table {table_name!r} does not have the schema sessionkit expects "
                f"(compare it with sessionkit.stores.sql.metadata): {error.orig}"
            )
        # OperationalError, InterfaceError, InternalError, DatabaseError: the connection
        # or the server failed (refused, dropped, timed out, locked past the bound).
        return StoreUnavailable(f"the database failed: {_first_line(error.orig or error)}")
    if isinstance(error, sa_exc.TimeoutError):  # the pool's wait for a free connection
        return StoreUnavailable(
            "no free connection in the pool within the deadline: every one is in use "
            f"(size pool_size + max_overflow; see docs/backends/sql.md): {_first_line(error)}"
        )
    if isinstance(error, sa_exc.DisconnectionError):
        return StoreUnavailable(f"the database is unreachable: {error}")
    if isinstance(error, _CONNECTION_ERRORS):
        return StoreUnavailable(f"the database is unreachable: {error!r}")
    return None


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


class AppFunctionError(Exception):
    """Carries an exception raised by the caller's update function past the error mapping,
    so that it reaches the caller unchanged even if it looks like a database error."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(error)
        self.error = error


@contextmanager
def mapped_errors(table_name: str) -> Iterator[None]:
    """Raise sessionkit's typed errors for database and connection failures."""
    try:
        yield
    except AppFunctionError as carrier:
        raise carrier.error from None
    except MAPPED_ERRORS as error:
        mapped = translate(error, table_name)
        if mapped is None:
            raise
        raise mapped from error


def run_app_function(compute: Any, *args: Any) -> Any:
    try:
        return compute(*args)
    except Exception as error:
        raise AppFunctionError(error) from error
