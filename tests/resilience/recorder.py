"""An observer that keeps every resilience event, for assertions."""

from __future__ import annotations

from typing import Any


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def notify(self, event: str, fields: dict[str, Any]) -> None:
        self.events.append((event, dict(fields)))

    def names(self) -> list[str]:
        return [name for name, _ in self.events]

    def of(self, name: str) -> list[dict[str, Any]]:
        return [fields for event, fields in self.events if event == name]
