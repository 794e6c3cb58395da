"""Generate the sync code from the async source: every ``_async/`` folder gets a ``_sync/`` twin.

    python scripts/unasync.py          # (re)write the _sync/ files
    python scripts/unasync.py --check  # fail if any _sync/ file is not what would be written

The async code is the one source; the sync twin is derived by word-level substitution (the
approach httpcore takes). A name that needs a different sync spelling goes in SUBSTITUTIONS.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE_ROOTS = [ROOT / "src" / "sessionkit", ROOT / "tests"]

HEADER = "# Generated from {source} by scripts/unasync.py: edit that file, not this one.\n"

# Whole-word substitutions, applied in order.
SUBSTITUTIONS: list[tuple[str, str]] = [
    ("_async", "_sync"),
    ("async def", "def"),
    ("async with", "with"),
    ("async for", "for"),
    ("await ", ""),
    ("__aenter__", "__enter__"),
    ("__aexit__", "__exit__"),
    ("__aiter__", "__iter__"),
    ("__anext__", "__next__"),
    ("StopAsyncIteration", "StopIteration"),
    ("AsyncIterator", "Iterator"),
    ("AsyncIterable", "Iterable"),
    ("AsyncGenerator", "Generator"),
    ("asynccontextmanager", "contextmanager"),
    ("AsyncExitStack", "ExitStack"),
    ("aclose", "close"),
    ("asyncio.run(main())", "main()"),
    ("asyncio.sleep", "time.sleep"),
    ("import asyncio", "import time"),
    ("async_sleep", "sleep"),
    ("open_async_store", "open_store"),
    ("sqlalchemy.ext.asyncio", "sqlalchemy"),
    ("create_async_engine", "create_engine"),
    ("redis.asyncio", "redis"),  # and so redis.asyncio.cluster -> redis.cluster, ...
    # Classes: AsyncX -> X.
    (r"Async(\w+)", r"\1"),
]


def _compile(old: str) -> re.Pattern[str]:
    body = old if old.startswith("Async(") else re.escape(old)
    # Whole words: a boundary on each side that starts or ends with a word character.
    start = r"(?<!\w)" if re.match(r"\w", old) else ""
    end = r"(?!\w)" if re.search(r"[\w)]$", old) and not old.endswith(")") else ""
    return re.compile(start + body + end)


_PATTERNS = [(_compile(old), new) for old, new in SUBSTITUTIONS]


def unasync_text(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def targets() -> dict[Path, str]:
    """Every generated file and the text it must hold."""
    out: dict[Path, str] = {}
    for root in SOURCE_ROOTS:
        for source in sorted(root.rglob("_async/*.py")):
            target = source.parent.parent / "_sync" / source.name
            relative = source.relative_to(ROOT).as_posix()
            text = source.read_text()
            if not text.strip():
                out[target] = text
            else:
                out[target] = HEADER.format(source=relative) + unasync_text(text)
    return out


def stale_files() -> list[Path]:
    """Generated files that are missing or differ, plus _sync files with no async source."""
    wanted = targets()
    stale = [path for path, text in wanted.items() if not path.exists() or path.read_text() != text]
    for root in SOURCE_ROOTS:
        for existing in root.rglob("_sync/*.py"):
            if existing not in wanted:
                stale.append(existing)
    return stale


def main(argv: list[str]) -> int:
    if "--check" in argv:
        stale = stale_files()
        for path in stale:
            print(f"out of date: {path.relative_to(ROOT)}", file=sys.stderr)
        if stale:
            print("run: python scripts/unasync.py", file=sys.stderr)
        return 1 if stale else 0
    for path, text in targets().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
            print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
