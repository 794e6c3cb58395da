"""Progress with counts on stderr, from tqdm (the ``[cli]`` extra) when it is installed.

Shown only when stderr is a terminal, so scripts and logs never see it; without tqdm,
long commands simply run without a progress line.
"""

from __future__ import annotations

import importlib
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol


class Progress(Protocol):
    def update(self, done: int) -> None: ...


class _Silent:
    def update(self, done: int) -> None:
        del done


class _Bar:
    def __init__(self, bar: Any) -> None:
        self._bar = bar

    def update(self, done: int) -> None:
        self._bar.update(done)


def _tqdm() -> Any | None:
    try:
        return importlib.import_module("tqdm").tqdm
    except ImportError:
        return None


@contextmanager
def progress(
    description: str, total: int | None = None, unit: str = "sessions"
) -> Iterator[Progress]:
    """A progress bar of ``total`` items (a counter with the elapsed time when None)."""
    tqdm = _tqdm() if sys.stderr.isatty() else None
    if tqdm is None:
        yield _Silent()
        return
    # A terminal that reports no size (a bare pseudo-terminal) gets 80x24, not 0x0
    # (with 0 rows tqdm hides the bar).
    size = shutil.get_terminal_size()
    bar = tqdm(
        total=total,
        desc=description,
        unit=f" {unit}",
        file=sys.stderr,
        leave=False,
        ncols=size.columns,
        nrows=size.lines,
    )
    try:
        yield _Bar(bar)
    finally:
        bar.close()
