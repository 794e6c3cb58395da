"""The in-process store: zero setup, thread- and task-safe, for tests, demos and one worker."""

from ._async.memory import AsyncMemoryStore
from ._memory_state import MemoryState
from ._sync.memory import MemoryStore

__all__ = ["AsyncMemoryStore", "MemoryState", "MemoryStore"]
