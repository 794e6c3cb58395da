"""Type aliases whose sync and async spellings differ (``AsyncX`` becomes ``X`` in _sync)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeAlias, TypeVar

_T = TypeVar("_T")

#: A sleep function: ``asyncio.sleep`` in async code, ``time.sleep`` in sync code.
AsyncSleep: TypeAlias = Callable[[float], Awaitable[None]]
Sleep: TypeAlias = Callable[[float], None]

#: A call to retry: made afresh for each attempt.
AsyncOperation: TypeAlias = Callable[[], Awaitable[_T]]
Operation: TypeAlias = Callable[[], _T]
