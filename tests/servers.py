"""Real servers for tests: skip with a reason on a laptop without one, fail under CI=true."""

from __future__ import annotations

import os
import socket

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def server_reachable(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def require_server(name: str, host: str, port: int) -> None:
    """Skip (locally) or fail (in CI) the calling test when ``name`` is not listening."""
    if server_reachable(host, port):
        return
    reason = f"{name} is not running on {host}:{port}"
    if IN_CI:
        pytest.fail(f"{reason}, and CI=true: a test that needs it must not skip", pytrace=False)
    pytest.skip(reason)
