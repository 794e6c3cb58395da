"""Type aliases whose sync and async spellings differ (``AsyncX`` becomes ``X`` in _sync)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeAlias, TypeVar

_T = TypeVar("_T")

#: A call a wrapper passes on: ``lambda: store.get(key)``, made afresh for each attempt.
AsyncOperation: TypeAlias = Callable[[], Awaitable[_T]]
Operation: TypeAlias = Callable[[], _T]
