"""What every store class shares: the context manager and the closed check."""

from __future__ import annotations

from types import TracebackType
from typing import TypeVar

from ..errors import StoreClosed

__all__ = ["AsyncStoreBase"]

_Store = TypeVar("_Store", bound="AsyncStoreBase")


class AsyncStoreBase:
    """Gives a store ``async with`` support and a uniform `StoreClosed` error."""

    _closed: bool = False

    async def __aenter__(self: _Store) -> _Store:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        self._closed = True

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosed(f"{type(self).__name__} is closed")
