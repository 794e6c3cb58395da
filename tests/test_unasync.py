"""The sync code is generated from the async source; this fails when it is stale."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _load_unasync():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("unasync", ROOT / "scripts" / "unasync.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_sync_files_are_current() -> None:
    stale = _load_unasync().stale_files()
    assert not stale, f"run `python scripts/unasync.py`; stale: {[str(p) for p in stale]}"


def test_substitutions_turn_async_code_into_sync_code() -> None:
    unasync = _load_unasync()
    source = (
        "from ..._async.base import AsyncStoreBase\n"
        "async def f(self) -> AsyncIterator[str]:\n"
        "    async with AsyncMemoryStore() as store:\n"
        "        await store.set('k', {})\n"
        "        async for key in store.scan():\n"
        "            await asyncio.sleep(0)\n"
    )
    assert unasync.unasync_text(source) == (
        "from ..._sync.base import StoreBase\n"
        "def f(self) -> Iterator[str]:\n"
        "    with MemoryStore() as store:\n"
        "        store.set('k', {})\n"
        "        for key in store.scan():\n"
        "            time.sleep(0)\n"
    )
