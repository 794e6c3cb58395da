"""The session manager: a store opened by URL, the preset namespaces, tenants and a sweeper."""

from ._async.manager import AsyncSessionManager
from ._sync.manager import SessionManager
from .common import DEFAULT_SWEEP_INTERVAL, SessionStats

__all__ = ["DEFAULT_SWEEP_INTERVAL", "AsyncSessionManager", "SessionManager", "SessionStats"]
