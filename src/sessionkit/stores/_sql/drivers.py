"""Which driver each SQL URL gets, the Python modules it needs, and the extra that brings them.

Nothing here imports a driver (or SQLAlchemy's asyncio layer): a missing one is named in
one sentence before SQLAlchemy would fail with its own text, and the sync SQLite path
(stdlib ``sqlite3``) never needs greenlet or an async driver.
"""

from __future__ import annotations

import importlib.util

from ...errors import ConfigurationError

__all__ = [
    "ASYNC_DRIVERS",
    "ASYNC_ONLY",
    "DRIVER_EXTRAS",
    "DRIVER_MODULES",
    "DRIVER_PACKAGES",
    "SYNC_DRIVERS",
    "SYNC_ONLY",
    "check_driver_installed",
    "choose_driver",
    "explain_missing_driver",
    "missing_driver_message",
]

# The driver each mode uses when the URL names none, or names one of the other mode.
SYNC_DRIVERS = {"sqlite": "pysqlite", "postgresql": "psycopg", "mysql": "pymysql"}
ASYNC_DRIVERS = {"sqlite": "aiosqlite", "postgresql": "psycopg", "mysql": "asyncmy"}
ASYNC_ONLY = {"aiosqlite", "asyncpg", "psycopg_async", "aiomysql", "asyncmy"}
SYNC_ONLY = {"pysqlite", "psycopg2", "pg8000", "pymysql", "mysqldb", "mysqlconnector"}

#: The modules SQLAlchemy imports for each driver name.
DRIVER_MODULES: dict[str, tuple[str, ...]] = {
    "pysqlite": ("sqlite3",),
    "aiosqlite": ("aiosqlite",),
    "psycopg": ("psycopg",),
    "psycopg_async": ("psycopg",),
    "asyncpg": ("asyncpg",),
    "psycopg2": ("psycopg2",),
    "pg8000": ("pg8000",),
    "pymysql": ("pymysql",),
    "asyncmy": ("asyncmy",),
    "aiomysql": ("aiomysql",),
    "mysqldb": ("MySQLdb",),
    "mysqlconnector": ("mysql.connector",),
}

#: The sessionkit extra that installs a driver (and greenlet, for the async ones).
DRIVER_EXTRAS = {
    "aiosqlite": "sqlite",
    "psycopg": "postgres",
    "psycopg_async": "postgres",
    "asyncpg": "postgres",
    "pymysql": "mysql",
    "asyncmy": "mysql",
}

#: The pip package of a driver that no extra brings.
DRIVER_PACKAGES = {
    "psycopg2": "psycopg2-binary",
    "pg8000": "pg8000",
    "aiomysql": "aiomysql",
    "mysqldb": "mysqlclient",
    "mysqlconnector": "mysql-connector-python",
}


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a missing parent package ("mysql" of mysql.connector)
        return False


def missing_driver_message(drivername: str, missing: list[str]) -> str:
    """One sentence: what ``backend+driver://`` needs and the command that installs it."""
    driver = drivername.partition("+")[2]
    extra = DRIVER_EXTRAS.get(driver)
    if extra is not None:
        fix = f"pip install 'sessionkit[{extra}]'"
    else:
        packages = [DRIVER_PACKAGES.get(driver, driver)]
        if "greenlet" in missing:
            packages.insert(0, "greenlet")
        fix = f"pip install {' '.join(packages)}"
    return f"{drivername}:// needs {' and '.join(missing)}: {fix}"


def check_driver_installed(drivername: str, *, asynchronous: bool) -> None:
    """ConfigurationError naming what is missing for ``backend+driver`` in this mode."""
    driver = drivername.partition("+")[2]
    missing = [module for module in DRIVER_MODULES.get(driver, ()) if not _importable(module)]
    if asynchronous and not _importable("greenlet"):
        missing.insert(0, "greenlet")  # SQLAlchemy's asyncio layer runs on it
    if missing:
        raise ConfigurationError(missing_driver_message(drivername, missing))


def choose_driver(backend: str, driver: str, *, asynchronous: bool) -> str:
    """The driver a URL ``backend+driver`` gets in this mode: its own when it fits the
    mode, else the mode's default (so one URL opens both the sync and the async store)."""
    family = "mysql" if backend == "mariadb" else backend
    wrong_mode = SYNC_ONLY if asynchronous else ASYNC_ONLY
    if not driver or driver in wrong_mode:
        return (ASYNC_DRIVERS if asynchronous else SYNC_DRIVERS)[family]
    return driver


def explain_missing_driver(url: str, *, asynchronous: bool) -> str | None:
    """For the store registry: the one-sentence fix when opening ``url`` failed on an
    import, or None if every module it needs is installed (the failure is another one)."""
    scheme = url.split("://", 1)[0].lower()
    backend, _, driver = scheme.partition("+")
    backend = "postgresql" if backend == "postgres" else backend
    if ("mysql" if backend == "mariadb" else backend) not in SYNC_DRIVERS:
        return None
    drivername = f"{backend}+{choose_driver(backend, driver, asynchronous=asynchronous)}"
    try:
        check_driver_installed(drivername, asynchronous=asynchronous)
    except ConfigurationError as error:
        return str(error)
    return None
