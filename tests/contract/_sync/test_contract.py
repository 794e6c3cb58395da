# Generated from tests/contract/_async/test_contract.py by scripts/unasync.py: edit that file, not this one.
"""The store contract (sessionkit.testing) against every backend and every wrapper.

The cases live in :class:`sessionkit.testing.StoreContract`, the same class a
third-party backend subclasses; here one subclass runs them over each built-in backend
(tests/backends) and each wrapper stack, one pytest parameter per backend.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from sessionkit import SessionStore, open_store
from sessionkit.testing import StoreContract
from tests.backends import SPECS, WRAPPED_SPECS, BackendSpec
from tests.contract._sync.wrappers import wrap_store

ALL_SPECS = {**SPECS, **WRAPPED_SPECS}


class TestBuiltinStores(StoreContract):
    spec: BackendSpec

    @pytest.fixture(autouse=True, params=sorted(SPECS) + sorted(WRAPPED_SPECS))
    def backend(self, request: pytest.FixtureRequest) -> None:
        self.spec = ALL_SPECS[request.param]
        self.spec.require()
        self.fake_clock = self.spec.fake_clock
        self.sweeps = self.spec.sweeps

    def make_store(self, **options: Any) -> SessionStore:
        token = uuid.uuid4().hex[:12]
        options = {**self.spec.options(token), **options}
        directory = self.tmp_path / token
        directory.mkdir()
        store = open_store(self.spec.url(directory), **options)
        if self.spec.wrap is not None:
            journal = self.tmp_path / f"journal-{token}.jsonl"
            clock = options.get("clock")
            store = wrap_store(self.spec.wrap, store, journal, clock, options.get("default_ttl"))
        return store
