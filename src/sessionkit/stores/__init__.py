"""The backends. Each is a :class:`~sessionkit.SessionStore` (and an async twin)."""

from .memory import AsyncMemoryStore, MemoryStore

__all__ = ["AsyncMemoryStore", "MemoryStore"]
