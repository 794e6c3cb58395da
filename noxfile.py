"""Development sessions: ``nox -s tests lint typecheck docs bench``."""

from __future__ import annotations

import nox

nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.reuse_existing_virtualenvs = True

PYTHONS = ["3.10", "3.11", "3.12"]


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """The whole test suite (servers it cannot reach skip; under CI=true they fail)."""
    session.install("-e", ".[all,dev]")
    session.run("python", "scripts/unasync.py", "--check")
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session
def ptb_suite(session: nox.Session) -> None:
    """python-telegram-bot's own tests/ext/test_basepersistence.py (from its sdist at the
    installed version, never committed) against SessionkitPersistence on memory, SQLite,
    Redis and PostgreSQL: scripts/ptb_suite.py."""
    session.install("-e", ".[all,dev]")
    session.run("python", "scripts/ptb_suite.py", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff over the code, the tests and the scripts."""
    session.install("ruff>=0.5")
    session.run("ruff", "check", "src", "tests", "scripts", "benchmarks", "examples", "noxfile.py")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict over the package and scripts/."""
    session.install("-e", ".[all,dev]")
    session.run("mypy")


@nox.session
def unasync(session: nox.Session) -> None:
    """Regenerate the sync code from the async source."""
    session.run("python", "scripts/unasync.py", external=True)


@nox.session
def docs(session: nox.Session) -> None:
    """Build the documentation site with --strict (warnings are errors)."""
    session.install("-e", ".[docs]")
    session.run("mkdocs", "build", "--strict")


@nox.session
def bench(session: nox.Session) -> None:
    """The benchmark suite: sessionkit against its baselines, as ratios; writes
    docs/performance.json, the table in docs/performance.md and the scaling plot."""
    session.install("-e", ".[all,dev,bench]")
    session.run("python", "-m", "benchmarks", "--write-docs", *session.posargs)
    # wrk against starsessions (needs wrk and redis-server; skips without them)
    session.run("python", "-m", "benchmarks.cookies", "--write-docs")


@nox.session
def mutation(session: nox.Session) -> None:
    """Plant each bug in scripts/mutation.py; fails if a named test still passes."""
    session.install("-e", ".[all,dev]")
    session.run("python", "scripts/mutation.py", *session.posargs)
