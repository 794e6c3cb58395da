"""What differs between the sync and async contract classes for pytest.

The async halves are the source the sync ones are generated from, where every
``AsyncName`` becomes ``Name``: these pairs give each half the right spelling.
pytest-asyncio is imported only when the async contract is used.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import pytest

_F = TypeVar("_F", bound=Callable[..., Any])

#: The marks of the async contract's tests: run by pytest-asyncio, in any of its modes.
AsyncContractMarks = [pytest.mark.asyncio]
ContractMarks: list[pytest.MarkDecorator] = []


def AsyncFixture(function: _F) -> _F:
    """A pytest-asyncio fixture (the async contract needs pytest-asyncio installed)."""
    try:
        import pytest_asyncio  # noqa: PLC0415 - only the async contract needs it
    except ImportError as error:
        raise ImportError(
            "AsyncStoreContract needs pytest-asyncio: pip install pytest-asyncio"
        ) from error
    return cast(_F, pytest_asyncio.fixture(function))


Fixture = pytest.fixture
