"""The integration tests' backend lookup: skip locally, fail under CI=true (as tests/servers)."""

from __future__ import annotations

import pytest

from tests import servers
from tests.integrations.conftest import backend_spec


def test_an_unknown_backend_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(servers, "IN_CI", True)
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        backend_spec("no-such-backend")


def test_an_unknown_backend_skips_locally(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(servers, "IN_CI", False)
    with pytest.raises(pytest.skip.Exception, match="no-such-backend"):
        backend_spec("no-such-backend")


def test_a_known_backend_is_found() -> None:
    assert backend_spec("memory").name == "memory"
