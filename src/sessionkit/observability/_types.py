"""Type aliases whose sync and async spellings differ (``AsyncX`` becomes ``X`` in _sync)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeAlias, TypeVar

_T = TypeVar("_T")

#: A call to report on: ``lambda: store.get(key)``.
AsyncOperation: TypeAlias = Callable[[], Awaitable[_T]]
Operation: TypeAlias = Callable[[], _T]
