"""What ``stats()`` reports: live sessions per tenant and namespace, counted during a scan."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

import attrs

from ..namespaces.keyspace import namespace_of

__all__ = ["SessionStats", "StatsTally"]


@attrs.frozen
class SessionStats:
    """How many live sessions there are, per tenant and namespace.

    ``counts`` maps ``(tenant, namespace)`` to a count; the default tenant is ``None``.
    Only namespace sessions (keys under a namespace's prefix) are counted there and in
    `total`. ``other`` is how many other keys the scan met (the integrations'
    ``~websession:``, ``~aiogram:``, ``~ptb:`` keys, keys written to the store directly):
    reported for information, never in `total`, and never purged by the manager.
    """

    counts: Mapping[tuple[str | None, str], int]
    other: int = 0

    @classmethod
    def from_keys(cls, keys: Iterable[str]) -> SessionStats:
        tally = StatsTally()
        for key in keys:
            tally.add(key)
        return tally.stats()

    @property
    def total(self) -> int:
        """Every namespace session counted (``other`` keys are not sessions: not included)."""
        return sum(self.counts.values())

    def by_namespace(self) -> dict[str, int]:
        """Counts per namespace, all tenants together."""
        totals: Counter[str] = Counter()
        for (_, namespace), count in self.counts.items():
            totals[namespace] += count
        return dict(totals)

    def by_tenant(self) -> dict[str | None, dict[str, int]]:
        """Counts per tenant (``None``: the default tenant), then per namespace."""
        tenants: dict[str | None, dict[str, int]] = {}
        for (tenant, namespace), count in self.counts.items():
            tenants.setdefault(tenant, {})[namespace] = count
        return tenants


class StatsTally:
    """Counts keys into a `SessionStats` one at a time, while a scan runs."""

    def __init__(self) -> None:
        self._counts: Counter[tuple[str | None, str]] = Counter()
        self._other = 0

    def add(self, key: str) -> None:
        found = namespace_of(key)
        if found is None:
            self._other += 1
        else:
            self._counts[found] += 1

    def stats(self) -> SessionStats:
        return SessionStats(dict(self._counts), self._other)
