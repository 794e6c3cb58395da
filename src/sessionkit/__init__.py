"""sessionkit: server-side session state for FastAPI services and Telegram bots.

Open a store by URL, then get, set and atomically update JSON-compatible sessions:

>>> import sessionkit
>>> store = sessionkit.open_store("memory://", default_ttl=3600)
>>> store.set("templates:t1", {"filename": "lease.docx", "status": "uploaded"})
>>> store.update("templates:t1", lambda s: {**s, "status": "confirmed"})
{'filename': 'lease.docx', 'status': 'confirmed'}
>>> store.close()
"""

from ._async.protocol import AsyncSessionStore
from ._sync.protocol import SessionStore
from .clock import Clock, FakeClock, SystemClock
from .codec import JSONCodec
from .entry import TTL, Entry, InvalidTTL, UpdateFunction
from .errors import (
    ConfigurationError,
    ConflictError,
    CorruptValue,
    InvalidKey,
    PayloadTooLarge,
    SerializationError,
    SessionKitError,
    SessionNotFound,
    StoreClosed,
    StoreUnavailable,
)
from .keys import MAX_KEY_LENGTH, validate_key
from .registry import open_async_store, open_store, register_scheme
from .stores.memory import AsyncMemoryStore, MemoryStore

__version__ = "0.1.0.dev0"

__all__ = [
    "MAX_KEY_LENGTH",
    "TTL",
    "AsyncMemoryStore",
    "AsyncSessionStore",
    "Clock",
    "ConfigurationError",
    "ConflictError",
    "CorruptValue",
    "Entry",
    "FakeClock",
    "InvalidKey",
    "InvalidTTL",
    "JSONCodec",
    "MemoryStore",
    "PayloadTooLarge",
    "SerializationError",
    "SessionKitError",
    "SessionNotFound",
    "SessionStore",
    "StoreClosed",
    "StoreUnavailable",
    "SystemClock",
    "UpdateFunction",
    "__version__",
    "open_async_store",
    "open_store",
    "register_scheme",
    "validate_key",
]
