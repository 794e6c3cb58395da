"""sessionkit: server-side session state for FastAPI services and Telegram bots.

Open a store by URL, then get, set and atomically update JSON-compatible sessions:

```pycon
>>> import sessionkit
>>> store = sessionkit.open_store("memory://", default_ttl=3600)
>>> store.set("templates:t1", {"filename": "lease.docx", "status": "uploaded"})
>>> store.update("templates:t1", lambda s: {**s, "status": "confirmed"})
{'filename': 'lease.docx', 'status': 'confirmed'}
>>> store.close()

```
"""

import logging
from typing import Any

from ._async.protocol import AsyncSessionStore
from ._moved import moved_attribute
from ._sync.protocol import SessionStore
from .clock import Clock, FakeClock, SystemClock
from .codec import JSONCodec
from .entry import MAX_TTL, TTL, Entry, InvalidTTL, UpdateFunction
from .errors import (
    BackendError,
    CircuitOpen,
    ConfigurationError,
    ConflictError,
    CorruptValue,
    InvalidKey,
    JournalFull,
    JournalUnavailable,
    JournalUnsafe,
    PayloadTooLarge,
    SerializationError,
    SessionKitError,
    SessionNotFound,
    StoreClosed,
    StoreUnavailable,
)
from .keys import MAX_KEY_LENGTH, validate_key
from .manager import AsyncSessionManager, SessionManager, SessionStats
from .namespaces import (
    AsyncNamespace,
    CorruptSession,
    InvalidPolicy,
    Namespace,
    TTLPolicy,
)
from .registry import open_async_store, open_store, register_scheme
from .resilience import resilient
from .stores.memory import AsyncMemoryStore, MemoryStore

__version__ = "0.1.0.dev0"

# A library is silent unless the application asks: without this, records of level warning
# and above would reach logging's last-resort handler (stderr) in an unconfigured app.
logging.getLogger("sessionkit").addHandler(logging.NullHandler())

__all__ = [
    "MAX_KEY_LENGTH",
    "MAX_TTL",
    "TTL",
    "AsyncMemoryStore",
    "AsyncNamespace",
    "AsyncSessionManager",
    "AsyncSessionStore",
    "BackendError",
    "CircuitOpen",
    "Clock",
    "ConfigurationError",
    "ConflictError",
    "CorruptSession",
    "CorruptValue",
    "Entry",
    "FakeClock",
    "InvalidKey",
    "InvalidPolicy",
    "InvalidTTL",
    "JSONCodec",
    "JournalFull",
    "JournalUnavailable",
    "JournalUnsafe",
    "MemoryStore",
    "Namespace",
    "PayloadTooLarge",
    "SerializationError",
    "SessionKitError",
    "SessionManager",
    "SessionNotFound",
    "SessionStats",
    "SessionStore",
    "StoreClosed",
    "StoreUnavailable",
    "SystemClock",
    "TTLPolicy",
    "UpdateFunction",
    "__version__",
    "open_async_store",
    "open_store",
    "register_scheme",
    "resilient",
    "validate_key",
]


def __getattr__(name: str) -> Any:
    """The preset names, at their old place for one release (deprecated)."""
    return moved_attribute(__name__, name)
