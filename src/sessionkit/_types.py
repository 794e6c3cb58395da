"""Type aliases whose sync and async spellings differ (``AsyncX`` becomes ``X`` in _sync)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeAlias, TypeVar

_T = TypeVar("_T")
_A = TypeVar("_A")

#: A call a wrapper passes on: ``lambda: store.get(key)``, made afresh for each attempt.
AsyncOperation: TypeAlias = Callable[[], Awaitable[_T]]
Operation: TypeAlias = Callable[[], _T]

#: One attempt of a retried step, given what it runs on (a store's connection).
AsyncAttempt: TypeAlias = Callable[[_A], Awaitable[_T]]
Attempt: TypeAlias = Callable[[_A], _T]
