"""The backends. Each is a `SessionStore` (and an async twin)."""

from .memory import AsyncMemoryStore, MemoryStore

__all__ = ["AsyncMemoryStore", "MemoryStore"]
