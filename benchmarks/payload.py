"""What the networked suites store: a ~1 KiB JSON session, as a bot or a web app keeps one."""

from __future__ import annotations

from typing import Any

SESSION: dict[str, Any] = {
    "user_id": 123456789,
    "chat_id": -1001234567890,
    "locale": "es-MX",
    "flow": "tariff_create",
    "step": "price",
    "started_at": 1_700_000_000.25,
    "data": {
        "price": 990,
        "currency": "RUB",
        "name": "Premium 30 días",
        "description": "Acceso completo a los canales premium durante treinta días.",
        "channels": [-1001000000001, -1001000000002, -1001000000003],
        "trial": False,
        "discount": None,
    },
    "history": [
        {"step": s, "at": 1_700_000_000 + i, "ok": True} for i, s in enumerate("abcdefghijkl")
    ],
    "flags": {"admin": False, "beta": True, "muted_until": None},
    "cart": [{"sku": f"SKU-{n:05d}", "qty": n % 3 + 1, "price": 9.99 * n} for n in range(1, 5)],
}

#: The patch ``merge`` applies, and what ``update`` changes.
PATCH: dict[str, Any] = {"step": "name"}

#: get_many / set_many work on this many keys.
MANY = 100


def advance(value: dict[str, Any]) -> dict[str, Any]:
    """The update function: a typical small change to one field."""
    value["step"] = "name"
    return value
