# Generated from src/sessionkit/testing/_async/flaky.py by scripts/unasync.py: edit that file, not this one.
"""A test double for a *backend*: a memory store that can be switched down.

The wrappers under test are real; only the backend they wrap is replaced, so that a test
can say "the server is down now" and "it is back" deterministically.
"""

from __future__ import annotations

from collections.abc import Iterator, Iterable, Mapping
from typing import Any

from ...entry import TTL, Entry, UpdateFunction
from ...errors import StoreUnavailable
from ...stamped import ReplayOutcome, StampedWrite
from ...stores.memory import MemoryStore


class FlakyStore(MemoryStore):
    """A memory store that raises StoreUnavailable while ``down``.

    ``fail_after``: allow that many more calls, then go down (a server dying mid-replay).
    ``lose_replies``: apply writes, then raise anyway (the reply lost on the wire).
    ``calls`` counts every call that reached the data, by operation name.
    """

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.down = False
        self.fail_after: int | None = None
        self.lose_replies = False
        self.calls: dict[str, int] = {}

    def _enter(self, operation: str) -> None:
        if self.fail_after is not None:
            if self.fail_after <= 0:
                self.down = True
                self.fail_after = None
            else:
                self.fail_after -= 1
        if self.down:
            raise StoreUnavailable(f"{operation}: the test backend is down")
        self.calls[operation] = self.calls.get(operation, 0) + 1

    def _reply(self, operation: str) -> None:
        if self.lose_replies:
            raise StoreUnavailable(f"{operation}: applied, but the reply was lost")

    def get(self, key: str) -> dict[str, Any] | None:
        self._enter("get")
        return super().get(key)

    def get_entry(self, key: str) -> Entry | None:
        self._enter("get_entry")
        return super().get_entry(key)

    def set(self, key: str, value: Mapping[str, Any], ttl: TTL | None = None) -> None:
        self._enter("set")
        super().set(key, value, ttl)
        self._reply("set")

    def apply_if_newer(self, write: StampedWrite) -> ReplayOutcome:
        self._enter("apply_if_newer")
        outcome = super().apply_if_newer(write)
        self._reply("apply_if_newer")
        return outcome

    def create(self, key: str, value: Mapping[str, Any], ttl: TTL | None = None) -> bool:
        self._enter("create")
        created = super().create(key, value, ttl)
        self._reply("create")
        return created

    def update(
        self,
        key: str,
        fn: UpdateFunction,
        ttl: TTL | None = None,
        *,
        default: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        self._enter("update")
        value = super().update(key, fn, ttl, default=default)
        self._reply("update")
        return value

    def merge(
        self, key: str, patch: Mapping[str, Any], ttl: TTL | None = None
    ) -> dict[str, Any]:
        self._enter("merge")
        value = super().merge(key, patch, ttl)
        self._reply("merge")
        return value

    def delete(self, key: str) -> bool:
        self._enter("delete")
        existed = super().delete(key)
        self._reply("delete")
        return existed

    def exists(self, key: str) -> bool:
        self._enter("exists")
        return super().exists(key)

    def touch(self, key: str, ttl: TTL | None = None) -> bool:
        self._enter("touch")
        existed = super().touch(key, ttl)
        self._reply("touch")
        return existed

    def ttl(self, key: str) -> float | None:
        self._enter("ttl")
        return super().ttl(key)

    def get_many(self, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        self._enter("get_many")
        return super().get_many(keys)

    def set_many(
        self, items: Mapping[str, Mapping[str, Any]], ttl: TTL | None = None
    ) -> None:
        self._enter("set_many")
        super().set_many(items, ttl)
        self._reply("set_many")

    def scan(self, prefix: str = "", *, batch_size: int = 500) -> Iterator[str]:
        self._enter("scan")
        for key in super().scan(prefix, batch_size=batch_size):
            yield key

    def count(self, prefix: str = "") -> int:
        self._enter("count")
        return super().count(prefix)

    def purge(self, prefix: str = "") -> int:
        self._enter("purge")
        return super().purge(prefix)
