"""Each pip extra brings what its URLs and quickstarts need, read from pyproject.toml.

No install per pair: the extras are expanded from the project metadata, and checked against
the driver table the stores use to choose a driver and to name a missing one.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from sessionkit.registry import _BACKENDS
from sessionkit.stores._sql.drivers import (
    DRIVER_EXTRAS,
    DRIVER_MODULES,
    DRIVER_PACKAGES,
    choose_driver,
    missing_driver_message,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    tomllib = pytest.importorskip("tomli")

PROJECT = tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text())
CORE = PROJECT["project"]["dependencies"]
EXTRAS = PROJECT["project"]["optional-dependencies"]

# The distribution that provides each module a driver needs (None: the standard library).
DISTRIBUTION_OF = {
    "sqlite3": None,
    "greenlet": "greenlet",
    "aiosqlite": "aiosqlite",
    "psycopg": "psycopg",
    "asyncpg": "asyncpg",
    "pymysql": "pymysql",
    "asyncmy": "asyncmy",
}


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def distributions(*extras: str) -> set[str]:
    """Every distribution a plain install plus ``extras`` brings (sessionkit[...] expanded)."""
    found: set[str] = set()
    pending = [Requirement(line) for line in CORE]
    for extra in extras:
        pending += [Requirement(line) for line in EXTRAS[extra]]
    while pending:
        requirement = pending.pop()
        if requirement.name == "sessionkit":
            pending += [Requirement(line) for e in requirement.extras for line in EXTRAS[e]]
        else:
            found.add(_normalized(requirement.name))
    return found


def needed(url: str, *, asynchronous: bool) -> tuple[str, set[str]]:
    """The driver a SQL URL gets in this mode and the distributions it needs."""
    backend, _, driver = url.split("://", 1)[0].partition("+")
    backend = "postgresql" if backend == "postgres" else backend
    chosen = choose_driver(backend, driver, asynchronous=asynchronous)
    modules = [*DRIVER_MODULES[chosen], *(["greenlet"] if asynchronous else [])]
    return chosen, {d for m in modules if (d := DISTRIBUTION_OF[m]) is not None}


SQL_URLS = [
    "sqlite:///s.db",
    "sqlite+aiosqlite:///s.db",
    "postgresql://h/db",
    "postgres://h/db",
    "postgresql+asyncpg://h/db",
    "postgresql+psycopg://h/db",
    "mysql://h/db",
    "mariadb://h/db",
    "mysql+asyncmy://h/db",
    "mysql+pymysql://h/db",
]


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("url", SQL_URLS)
def test_the_extra_a_sql_url_names_brings_its_driver(url: str, asynchronous: bool) -> None:
    driver, wanted = needed(url, asynchronous=asynchronous)
    scheme = url.split("://", 1)[0]
    extra = _BACKENDS.get(scheme, _BACKENDS[scheme.split("+")[0]]).extra
    assert extra is not None
    assert DRIVER_EXTRAS.get(driver, extra) == extra  # the registry and the table agree
    if wanted:  # the sync SQLite driver is the standard library's: nothing to name
        assert DRIVER_EXTRAS[driver] == extra
        message = missing_driver_message(f"{scheme.split('+')[0]}+{driver}", sorted(wanted))
        assert message.endswith(f"pip install 'sessionkit[{extra}]'")
    assert wanted <= distributions(extra)


def test_a_plain_install_opens_sqlite_sync() -> None:
    driver, wanted = needed("sqlite:///sessions.db", asynchronous=False)
    assert (driver, wanted) == ("pysqlite", set())
    assert "sqlalchemy" in distributions()
    assert "greenlet" not in distributions()  # the async path is what the extras are for


@pytest.mark.parametrize(
    ("extra", "url"),
    [
        ("aiogram", "sqlite:///bot.db"),  # SessionkitStorage.from_url: an async store
        ("telegram", "sqlite:///bot.db"),  # SessionkitPersistence.from_url: async too
        ("fastapi", "sqlite:///sessions.db"),  # open_manager / sessionkit_lifespan
    ],
)
def test_an_integration_extra_alone_runs_its_quickstart(extra: str, url: str) -> None:
    _, wanted = needed(url, asynchronous=True)
    assert wanted <= distributions(extra)


@pytest.mark.parametrize("driver", sorted(set(DRIVER_MODULES) - set(DRIVER_EXTRAS) - {"pysqlite"}))
def test_a_driver_no_extra_brings_is_named_by_its_own_package(driver: str) -> None:
    message = missing_driver_message(f"postgresql+{driver}", [DRIVER_MODULES[driver][0]])
    assert "sessionkit[" not in message
    assert message.endswith(f"pip install {DRIVER_PACKAGES[driver]}")
