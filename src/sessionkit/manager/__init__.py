"""The session manager: a store opened by URL, typed namespaces, tenants and a sweeper."""

from ._async.manager import AsyncSessionManager
from ._sync.manager import SessionManager
from .environment import DEFAULT_SWEEP_INTERVAL
from .stats import SessionStats

__all__ = ["DEFAULT_SWEEP_INTERVAL", "AsyncSessionManager", "SessionManager", "SessionStats"]
