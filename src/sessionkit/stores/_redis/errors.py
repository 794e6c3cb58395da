"""What redis-py raises, as sessionkit's typed errors (the table is in docs/backends/redis.md)."""

from __future__ import annotations

from typing import Any

import redis.exceptions
from redis.exceptions import (
    AskError,
    AuthenticationError,
    AuthorizationError,
    ClusterError,
    ConnectionError,
    NoPermissionError,
    OutOfMemoryError,
    ReadOnlyError,
    RedisClusterException,
    RedisError,
    ResponseError,
    TimeoutError,
    TryAgainError,
)

from ...errors import (
    BackendError,
    ConfigurationError,
    CorruptValue,
    PayloadTooLarge,
    SessionKitError,
    StoreUnavailable,
)

__all__ = ["REDIS_ERRORS", "store_error"]

#: What a Redis call can raise that the store translates (cluster routing errors are not
#: RedisError subclasses).
REDIS_ERRORS = (RedisError, RedisClusterException)

# Error replies that mean "not now" rather than "never": a server loading its data, a
# replica or a master cut off from its replicas, a script running too long, a cluster
# resharding or failing over, memory full, persistence failing. redis-py turns some into
# classes (and drops the code from the message), the others keep the code as first word.
_TRANSIENT_REPLIES = frozenset(
    {
        "LOADING",
        "READONLY",
        "BUSY",
        "MASTERDOWN",
        "TRYAGAIN",
        "CLUSTERDOWN",
        "OOM",
        "MISCONF",
        "NOREPLICAS",
    }
)
# Newer than redis 5.0 (the oldest supported): () matches nothing.
_MaxConnectionsError: Any = getattr(redis.exceptions, "MaxConnectionsError", ())
_CLUSTER_USAGE_ERRORS: tuple[Any, ...] = tuple(
    getattr(redis.exceptions, name)
    for name in ("CrossSlotTransactionError", "InvalidPipelineStack")
    if hasattr(redis.exceptions, name)
)
_TRANSIENT_CLASSES = (ReadOnlyError, TryAgainError, ClusterError, AskError, OutOfMemoryError)
# The pool's "every connection is in use" (BlockingConnectionPool after its timeout).
_POOL_TIMEOUT_MESSAGE = "No connection available."


# A TLS handshake that no retry can fix: the certificate is not trusted (wrong or no CA),
# or one end speaks TLS and the other does not.
_TLS_REFUSED = ("CERTIFICATE_VERIFY_FAILED", "WRONG_VERSION_NUMBER", "certificate verify failed")


# What a server with requirepass (or ACL users) answers a client that sent no password:
# RESP3's HELLO, RESP2's NOAUTH. And what it answers a wrong one.
_NO_PASSWORD_GIVEN = (
    "HELLO must be called with the client already authenticated",
    "NOAUTH",
    "Authentication required",
)
_WRONG_PASSWORD = ("invalid username-password pair", "WRONGPASS", "invalid password")


def _credentials_error(message: str) -> ConfigurationError:
    """The fix, in words: redis-py's text says what the protocol did, not what to change."""
    if any(text in message for text in _NO_PASSWORD_GIVEN):
        return ConfigurationError(
            "Redis requires a password: put it in the URL, redis://:PASSWORD@host:6379/0 "
            "(redis://USER:PASSWORD@host:6379/0 for an ACL user)"
        )
    if any(text in message for text in _WRONG_PASSWORD):
        return ConfigurationError(
            "Redis refused the username or password in the URL: check them "
            "(redis://USER:PASSWORD@host:6379/0; a password with '@', ':' or '/' is "
            "percent-encoded)"
        )
    return ConfigurationError(f"Redis refused the credentials or the command: {message}")


def store_error(
    error: Exception, key: str | None = None, limit: int | None = None
) -> SessionKitError:
    """The library's error for what redis-py raised (``raise store_error(e) from e``).

    Only faults that may go away on their own are `StoreUnavailable` (the error the
    resilience layer retries, counts and journals): connection errors, timeouts, a
    connection pool that stayed full for the whole wait, and the replies in
    ``_TRANSIENT_REPLIES``. Every other error reply (``ERR ...``, a script error) is
    `BackendError`: retrying the same call would fail the same way. The table is in
    docs/backends/redis.md.
    """
    message = str(error)
    if isinstance(error, (AuthenticationError, AuthorizationError, NoPermissionError)):
        return _credentials_error(message)
    if isinstance(error, _MaxConnectionsError) or (
        isinstance(error, ConnectionError) and message == _POOL_TIMEOUT_MESSAGE
    ):  # a burst, not a broken server: waiting (a retry) can fix it
        return StoreUnavailable(
            "Redis is unavailable: every connection of the client's pool stayed in use "
            "(max_connections) for the whole timeout: raise max_connections or timeout, "
            "or make fewer concurrent calls"
        )
    if isinstance(error, ConnectionError) and any(text in message for text in _TLS_REFUSED):
        return ConfigurationError(
            f"Redis TLS failed, which waiting will not fix: check the certificate options "
            f"(client_options ssl_ca_certs=..., or rediss:// for a TLS port): {message}"
        )
    if isinstance(error, (ConnectionError, TimeoutError)):  # BusyLoadingError is one too
        return StoreUnavailable(f"Redis is unavailable: {type(error).__name__}: {message}")
    if isinstance(error, ResponseError):
        if key is not None and ("SKCORRUPT" in message or message.startswith("WRONGTYPE")):
            reason = message.split("SKCORRUPT ", 1)[-1].split(" script:", 1)[0]
            if message.startswith("WRONGTYPE"):
                reason = "holds a Redis value of another type"
            return CorruptValue(key, reason)
        if "SKTOOLARGE" in message and limit is not None:
            size = int(message.split("SKTOOLARGE ", 1)[1].split(maxsplit=1)[0])
            return PayloadTooLarge(size, limit)
        if isinstance(error, _TRANSIENT_CLASSES) or message.split(" ", 1)[0] in _TRANSIENT_REPLIES:
            return StoreUnavailable(f"Redis is unavailable: {type(error).__name__}: {message}")
    if isinstance(error, RedisClusterException) and not isinstance(
        error, _CLUSTER_USAGE_ERRORS
    ):  # no reachable node, a slot no node serves: the cluster is (re)configuring
        return StoreUnavailable(f"Redis is unavailable: {type(error).__name__}: {message}")
    return BackendError(f"Redis refused the call: {type(error).__name__}: {message}")
