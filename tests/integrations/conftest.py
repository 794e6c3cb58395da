"""Stores for the integration tests: every backend family that exists, by name."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sessionkit import AsyncSessionStore, open_async_store
from tests import servers
from tests.backends import SPECS, BackendSpec

#: The backends the adapters are tested on; a name not (yet) in SPECS is skipped locally
#: and fails under CI=true, like a missing server (tests/servers.py).
ADAPTER_BACKENDS = ["memory", "sqlite", "redis"]


def backend_spec(name: str) -> BackendSpec:
    spec = SPECS.get(name)
    if spec is None:
        reason = f"no {name!r} backend spec in tests/backends"
        if servers.IN_CI:
            pytest.fail(f"{reason}, and CI=true: a test that needs it must not skip", pytrace=False)
        pytest.skip(reason)
    spec.require()
    return spec


def open_backend(spec: BackendSpec, tmp_path: Path, token: str) -> AsyncSessionStore:
    """A store of ``spec`` isolated by ``token``; the same token reopens the same data."""
    return open_async_store(spec.url(tmp_path), **spec.options(token))


async def isolated_store(name: str, tmp_path: Path) -> AsyncIterator[AsyncSessionStore]:
    """The body of a fixture: a fresh store of backend ``name``, purged and closed after."""
    store = open_backend(backend_spec(name), tmp_path, uuid.uuid4().hex[:12])
    try:
        yield store
    finally:
        try:
            await store.purge("")
        finally:
            await store.close()


@pytest.fixture(params=ADAPTER_BACKENDS)
async def backend_store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[AsyncSessionStore]:
    async for store in isolated_store(request.param, tmp_path):
        yield store
