"""Run python-telegram-bot's own base-persistence tests against `SessionkitPersistence`.

    python scripts/ptb_suite.py [--backends memory,sqlite,redis,postgresql] [--sdist FILE]

Downloads PTB's sdist at the installed version (``pip download --no-deps --no-binary :all:``),
extracts ``tests/ext/test_basepersistence.py`` and the conftest and helpers it needs into a
temporary directory (nothing of PTB's is committed here), replaces the file's
``TrackingPersistence`` test double by the one in scripts/ptb_suite_double.py (the same
class, rebuilt on `SessionkitPersistence` over a real store), and runs it once per backend,
the backends in parallel. Exits non-zero unless every backend passes every test.

Needs the job-queue and callback-data extras of python-telegram-bot (the dev extra has
them), Redis on 127.0.0.1:6379 and PostgreSQL on 127.0.0.1:5432 (database ``test``).
Data is isolated by a key prefix and a table of this run's own, removed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
from importlib.metadata import version
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
TEST_FILE = "tests/ext/test_basepersistence.py"
# What test_basepersistence.py imports from PTB's test tree, and the conftests pytest loads.
NEEDED = re.compile(
    r"tests/(__init__\.py|conftest\.py|auxil/[^/]+\.py|ext/(__init__|conftest)\.py)"
)
EXPECTED_TESTS = 61  # in PTB 22.x; a different count is reported, not hidden

PYTEST_INI = """\
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = session
asyncio_default_test_loop_scope = session
filterwarnings =
    error
    ignore::DeprecationWarning
    ignore:Tasks created via `Application\\.create_task` while the application is not running
    ignore::ResourceWarning
markers =
    flaky
    dev
    no_req
    req
"""

# The double's class statement and the class after it, in PTB's file.
_DOUBLE = re.compile(
    r"^class TrackingPersistence\(BasePersistence\):\n.*?(?=^class TrackingConversationHandler)",
    re.S | re.M,
)
_REPLACEMENT = (
    "from tests.ext._sessionkit_double import tracking_persistence  # noqa: E402\n\n"
    "TrackingPersistence = tracking_persistence(HandlerStates)\n\n\n"
)

POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
REDIS_URL = "redis://127.0.0.1:6379/0"
BACKENDS = ("memory", "sqlite", "redis", "postgresql")


def fetch_sdist(target: Path) -> Path:
    installed = version("python-telegram-bot")
    subprocess.run(
        [
            sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
            "--no-deps", "--no-binary", ":all:", f"python-telegram-bot=={installed}",
            "-d", str(target),
        ],
        check=True,
    )  # fmt: skip
    (sdist,) = target.glob("python_telegram_bot-*.tar.gz")
    return sdist


def extract(sdist: Path, root: Path) -> None:
    with tarfile.open(sdist) as archive:
        for member in archive.getmembers():
            inner = member.name.split("/", 1)[-1]
            if member.isfile() and (inner == TEST_FILE or NEEDED.fullmatch(inner)):
                source = archive.extractfile(member)
                assert source is not None
                destination = root / inner
                destination.parent.mkdir(parents=True, exist_ok=True)
                destination.write_bytes(source.read())
    test_file = root / TEST_FILE
    original = test_file.read_text()
    rebuilt, count = _DOUBLE.subn(_REPLACEMENT, original)
    if count != 1:
        raise SystemExit(f"{TEST_FILE}: the TrackingPersistence double was not found once")
    test_file.write_text(rebuilt)
    (root / "tests/ext/_sessionkit_double.py").write_text(
        (HERE / "ptb_suite_double.py").read_text()
    )
    (root / "pytest.ini").write_text(PYTEST_INI)


def store_config(backend: str, root: Path, token: str) -> tuple[str, dict[str, object]]:
    if backend == "memory":
        return "memory://", {}
    if backend == "sqlite":
        return f"sqlite:///{root}/ptb-suite.db", {}
    if backend == "redis":
        return REDIS_URL, {"prefix": f"ptbsuite:{token}:"}
    if backend == "postgresql":
        return POSTGRES_URL, {"table_name": f"ptbsuite_{token}"}
    raise SystemExit(f"unknown backend {backend!r}; one of {', '.join(BACKENDS)}")


def clean_up(backend: str, url: str, options: dict[str, object]) -> None:
    if backend == "redis":
        from sessionkit import open_store  # noqa: PLC0415 - needed for this backend only

        with open_store(url, **options) as store:
            store.purge("")
    elif backend == "postgresql":
        import sqlalchemy as sa  # noqa: PLC0415 - needed for this backend only

        engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
        try:
            with engine.begin() as conn:
                conn.exec_driver_sql(f'DROP TABLE IF EXISTS "{options["table_name"]}"')
        finally:
            engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--sdist", type=Path, help="a PTB sdist already downloaded")
    parser.add_argument("pytest_args", nargs="*", help="passed on to pytest")
    args = parser.parse_args(argv)
    backends = [name for name in args.backends.split(",") if name]
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="ptb-suite-") as scratch:
        root = Path(scratch)
        sdist = args.sdist or fetch_sdist(root / "sdist")
        extract(sdist, root / "run")
        token = uuid.uuid4().hex[:12]
        runs = {}
        for backend in backends:
            url, options = store_config(backend, root, token)
            env = dict(os.environ)
            env.update(
                SESSIONKIT_PTB_URL=url,
                SESSIONKIT_PTB_OPTIONS=json.dumps(options),
                # PTB's conftest imports pytz for its optional-dependency tests unless it
                # believes it runs on GitHub Actions; these tests need none of them.
                GITHUB_ACTIONS="true",
                TEST_WITH_OPT_DEPS="false",
                PYTHONPATH=os.pathsep.join([str(REPO / "src"), env.get("PYTHONPATH", "")]),
            )
            command = [
                sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
                "--rootdir", str(root / "run"), TEST_FILE, *args.pytest_args,
            ]  # fmt: skip
            log = (root / f"{backend}.log").open("w+")
            process = subprocess.Popen(
                command, cwd=root / "run", env=env, stdout=log, stderr=subprocess.STDOUT
            )
            runs[backend] = (process, log, url, options)
        failed = []
        for backend, (process, log, url, options) in runs.items():
            status = process.wait()
            log.seek(0)
            output = log.read()
            log.close()
            try:
                clean_up(backend, url, options)
            except Exception as error:  # cleaning up must not hide the result
                print(f"{backend}: cleaning up failed: {error!r}", file=sys.stderr)
            summary = output.strip().splitlines()[-1] if output.strip() else "(no output)"
            passed = re.search(r"(\d+) passed", summary)
            ok = status == 0 and passed is not None and not re.search(r"failed|error", summary)
            if ok and passed is not None and int(passed.group(1)) != EXPECTED_TESTS:
                summary += f" (PTB's file has {passed.group(1)} tests, not {EXPECTED_TESTS})"
            print(f"{backend}: {summary}")
            if not ok:
                failed.append(backend)
                print(output, file=sys.stderr)
    print(f"PTB {version('python-telegram-bot')} test_basepersistence.py on "
          f"{', '.join(backends)}: {time.monotonic() - started:.0f} s")  # fmt: skip
    if failed:
        print(f"failed on: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
