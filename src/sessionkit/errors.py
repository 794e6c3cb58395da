"""Every error sessionkit raises, in one place.

All of them derive from `SessionKitError`, so ``except SessionKitError`` catches
anything the library itself decided to raise. Errors about bad input are raised *before*
anything is written: when you see one, the store is exactly as it was.

```pycon
>>> from sessionkit.errors import InvalidKey, SessionKitError
>>> issubclass(InvalidKey, SessionKitError) and issubclass(InvalidKey, ValueError)
True

```
"""

from __future__ import annotations

__all__ = [
    "BackendError",
    "CircuitOpen",
    "ConfigurationError",
    "ConflictError",
    "CorruptSession",
    "CorruptValue",
    "InvalidKey",
    "InvalidPolicy",
    "InvalidTTL",
    "JournalFull",
    "JournalUnavailable",
    "JournalUnsafe",
    "PayloadTooLarge",
    "SerializationError",
    "SessionKitError",
    "SessionNotFound",
    "StoreClosed",
    "StoreUnavailable",
]


class SessionKitError(Exception):
    """Base class of every error raised by sessionkit."""


class ConfigurationError(SessionKitError):
    """A store URL, an option or an installed extra is wrong or missing."""


class InvalidKey(SessionKitError, ValueError):
    """A key is empty, too long or holds a character that is not allowed."""


class SerializationError(SessionKitError, TypeError):
    """A value is not a JSON-compatible mapping (or an update function returned one that is not)."""


class PayloadTooLarge(SerializationError):
    """A value encodes to more bytes than the store's ``max_payload_bytes``."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"value encodes to {size} bytes, over the limit of {limit} bytes")
        self.size = size
        self.limit = limit


class CorruptValue(SessionKitError):
    """A stored value cannot be decoded: it was not written by sessionkit, or was damaged.

    Only the operation on that key fails; the stored bytes are left as they are.
    """

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"stored value for key {key!r} cannot be read: {reason}")
        self.key = key
        self.reason = reason


class ConflictError(SessionKitError):
    """An atomic update kept losing to concurrent writers and gave up after its retries."""

    def __init__(self, key: str, attempts: int) -> None:
        super().__init__(f"update of key {key!r} conflicted {attempts} times; giving up")
        self.key = key
        self.attempts = attempts


class SessionNotFound(SessionKitError, KeyError):
    """An operation needs an existing session and there is none (or it expired)."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key

    def __str__(self) -> str:
        return f"no session under key {self.key!r}"


class StoreUnavailable(SessionKitError):
    """The backend cannot be reached or did not answer in time.

    This is the one error the resilience wrappers retry, count and fall back on.
    """


class CircuitOpen(StoreUnavailable):
    """A circuit breaker is open: the call failed fast, without reaching the backend.

    ``retry_after`` is how many seconds remain before the breaker lets a probe through
    (0 when it is half-open and another call is already probing).
    """

    def __init__(self, breaker: str, retry_after: float) -> None:
        super().__init__(
            f"circuit breaker {breaker!r} is open; the backend is not called "
            f"(next probe in {max(retry_after, 0.0):.3g} s)"
        )
        self.breaker = breaker
        self.retry_after = max(retry_after, 0.0)


class BackendError(SessionKitError):
    """The backend answered, with an error that retrying the same call will not fix.

    A command or script the server rejects (``ERR ...``) or a protocol error. (A full
    connection pool is `StoreUnavailable`: waiting fixes it.) Unlike `StoreUnavailable`
    the resilience wrappers do not retry it, count it or journal the write: it is raised
    to the caller.
    """


class JournalUnavailable(StoreUnavailable):
    """The fallback journal file cannot be read or written (an I/O error of the local disk).

    A `StoreUnavailable`: the write was not acknowledged and nothing of it was kept. Keys
    the journal does not hold are still served by the primary.
    """

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"the fallback journal {path!r} cannot take the write: {reason}")
        self.path = path
        self.reason = reason


class JournalFull(JournalUnavailable):
    """The fallback journal refuses a write: it reached ``max_records`` or ``max_bytes``, or
    the disk is full (``ENOSPC``, ``EDQUOT``). Nothing was written; nothing is dropped.

    ``limit`` is ``"max_records"``, ``"max_bytes"`` or ``"disk"``.
    """

    def __init__(self, path: str, limit: str, reason: str) -> None:
        super().__init__(path, reason)
        self.limit = limit


class JournalUnsafe(ConfigurationError):
    """The fallback journal's path cannot be trusted: a symbolic link, a file owned by
    another user or readable/writable by group or others, or a directory others can write
    to without the sticky bit. The message names the file and the fix."""

    def __init__(self, path: str, problem: str, fix: str) -> None:
        super().__init__(f"unsafe fallback journal file {path!r}: {problem}; {fix}")
        self.path = path
        self.problem = problem
        self.fix = fix


class StoreClosed(SessionKitError):
    """The store was closed; open a new one."""


class InvalidTTL(SessionKitError, ValueError):
    """A TTL is zero, negative, not finite or not a number of seconds."""


class InvalidPolicy(ConfigurationError, ValueError):
    """A `TTLPolicy` whose fields do not make one of the three kinds of
    policy."""


class CorruptSession(CorruptValue):
    """A stored session cannot be structured into the namespace's class.

    ``field`` is the path of the first offending field (``"price"``, ``"messages[2].role"``),
    or ``None`` when the value as a whole is wrong.
    """

    def __init__(self, key: str, namespace: str, session_id: str, field: str | None, reason: str):
        where = f"field {field!r}" if field else "the value"
        super().__init__(key, f"namespace {namespace!r}, id {session_id!r}: {where}: {reason}")
        self.namespace = namespace
        self.session_id = session_id
        self.field = field
