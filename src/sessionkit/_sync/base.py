# Generated from src/sessionkit/_async/base.py by scripts/unasync.py: edit that file, not this one.
"""What every store class shares: the context manager and the closed check."""

from __future__ import annotations

from types import TracebackType
from typing import TypeVar

from ..errors import StoreClosed

__all__ = ["StoreBase"]

_Store = TypeVar("_Store", bound="StoreBase")


class StoreBase:
    """Gives a store ``with`` support and a uniform `StoreClosed` error."""

    _closed: bool = False

    def __enter__(self: _Store) -> _Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._closed = True

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosed(f"{type(self).__name__} is closed")
