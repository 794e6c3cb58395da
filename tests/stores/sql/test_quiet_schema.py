"""Opening a store on a table that already exists prints nothing, on every SQL driver.

MySQL answers ``CREATE TABLE IF NOT EXISTS`` on an existing table with a warning that asyncmy
logs at WARNING; in an application with no logging configured Python's last-resort handler
prints it to stderr. Run in a fresh interpreter, as an application would.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest

from tests.servers import require_server

SCRIPT = """
import asyncio, sys
import sessionkit
async_url, sync_url, table = sys.argv[1:]

async def twice_async():
    for opening in ("creates the table", "finds it"):
        store = sessionkit.open_async_store(async_url, table_name=table + "_a")
        await store.set("quiet:1", {"opening": opening}, ttl=60)
        await store.close()
    store = sessionkit.open_async_store(async_url, table_name=table + "_a")
    await store.drop_schema()
    await store.close()

def twice_sync():
    for opening in ("creates the table", "finds it"):
        with sessionkit.open_store(sync_url, table_name=table + "_s") as store:
            store.set("quiet:1", {"opening": opening}, ttl=60)
    with sessionkit.open_store(sync_url, table_name=table + "_s") as store:
        store.drop_schema()

asyncio.run(twice_async())
twice_sync()
"""


@pytest.mark.parametrize(
    ("name", "port", "async_url", "sync_url"),
    [
        (
            "MariaDB",
            3306,
            "mysql+asyncmy://root@127.0.0.1:3306/test",
            "mysql+pymysql://root@127.0.0.1:3306/test",
        ),
        (
            "PostgreSQL",
            5432,
            "postgresql+asyncpg://127.0.0.1:5432/test",
            "postgresql://127.0.0.1:5432/test",
        ),
    ],
)
def test_opening_an_existing_table_writes_nothing_to_stdout_or_stderr(
    name: str, port: int, async_url: str, sync_url: str
) -> None:
    require_server(name, "127.0.0.1", port)
    table = f"sktest_quiet_{uuid.uuid4().hex[:10]}"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, async_url, sync_url, table],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert (done.stdout, done.stderr) == ("", "")
