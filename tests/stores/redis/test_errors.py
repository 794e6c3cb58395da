"""How redis-py's exceptions become sessionkit's: only faults that may pass on their own
are StoreUnavailable (retried, counted by the breaker, journaled by the fallback).

The table is docs/backends/redis.md's; the real-server cases (an unknown command, OOM) are
in tests/stores/redis/_async/test_store.py, a full pool and dead servers in tests/faults/.
"""

from __future__ import annotations

import pytest
from redis import exceptions as rx

from sessionkit import BackendError, ConfigurationError, CorruptValue, StoreUnavailable
from sessionkit.errors import PayloadTooLarge
from sessionkit.stores._redis.errors import store_error

TRANSIENT = [
    rx.ConnectionError("Error 111 connecting to 127.0.0.1:1. Connection refused."),
    rx.TimeoutError("Timeout reading from socket"),
    rx.BusyLoadingError("Redis is loading the dataset in memory"),
    rx.ReadOnlyError("You can't write against a read only replica."),
    rx.TryAgainError("Multiple keys request during rehashing of slot"),
    rx.ClusterDownError("The cluster is down"),
    rx.MasterDownError("Link with MASTER is down and replica-serve-stale-data is set to 'no'."),
    rx.OutOfMemoryError("command not allowed when used memory > 'maxmemory'."),
    rx.ResponseError("BUSY Redis is busy running a script."),
    rx.ResponseError("MISCONF Redis is configured to save RDB snapshots, but it's failing"),
    rx.ResponseError("NOREPLICAS Not enough good replicas to write."),
    rx.ResponseError("OOM command not allowed when used memory > 'maxmemory'. script: x"),
    rx.SlotNotCoveredError("Command # 1 (GET k) requires a slot that no node serves"),
    rx.RedisClusterException("Redis Cluster cannot be connected."),
    rx.MaxConnectionsError("Too many connections"),  # a full pool: waiting can fix it
    rx.ConnectionError("No connection available."),  # a blocking pool's wait timed out
]

DETERMINISTIC = [
    rx.ResponseError("ERR unknown command 'GET', with args beginning with: 'k'"),
    rx.ResponseError("ERR user_script:1: Script attempted to access nonexistent global"),
    rx.ResponseError("ERR Error running script (call to f_0123): @user_script:1: boom"),
    rx.ResponseError("BUSYKEY Target key name already exists."),
    rx.ResponseError("WRONGTYPE Operation against a key holding the wrong kind of value"),
    rx.ExecAbortError("Transaction discarded because of previous errors."),
    rx.ClusterCrossSlotError("Keys in request don't hash to the same slot"),
    rx.DataError("Invalid input of type: 'dict'."),
    rx.InvalidResponse("Protocol Error: b'H'"),
]


@pytest.mark.parametrize("error", TRANSIENT, ids=repr)
def test_faults_that_may_pass_are_store_unavailable(error: Exception) -> None:
    assert isinstance(store_error(error, "k"), StoreUnavailable)


@pytest.mark.parametrize("error", DETERMINISTIC, ids=repr)
def test_errors_retrying_cannot_fix_are_backend_errors(error: Exception) -> None:
    mapped = store_error(error)
    assert type(mapped) is BackendError
    assert not isinstance(mapped, StoreUnavailable)


def test_pool_exhaustion_says_so() -> None:
    assert "max_connections" in str(store_error(rx.MaxConnectionsError("Too many connections")))


def test_our_script_replies_and_credentials() -> None:
    corrupt = store_error(rx.ResponseError("SKCORRUPT stored JSON is malformed: x"), "k")
    assert isinstance(corrupt, CorruptValue)
    assert corrupt.reason == "stored JSON is malformed: x"
    wrongtype = rx.ResponseError("WRONGTYPE Operation against a key holding the wrong kind")
    assert isinstance(store_error(wrongtype, "k"), CorruptValue)
    too_large = store_error(rx.ResponseError("SKTOOLARGE 300"), "k", 200)
    assert isinstance(too_large, PayloadTooLarge)
    assert (too_large.size, too_large.limit) == (300, 200)
    for error in (
        rx.AuthenticationError("invalid username-password pair"),
        rx.NoPermissionError("this user has no permissions to run the 'evalsha' command"),
    ):
        assert isinstance(store_error(error, "k"), ConfigurationError)
