"""A bot's tariff wizard kept in a session store instead of instance attributes.

Run: python examples/quickstart.py [STORE_URL]   (default: memory://)
"""

from __future__ import annotations

import sys

import sessionkit

WIZARD_TTL = 10 * 60  # an abandoned wizard expires after 10 minutes


def main(url: str) -> None:
    with sessionkit.open_store(url, default_ttl=WIZARD_TTL) as store:
        key = "admin:tariff:123456789"  # one wizard per admin user
        if not store.create(key, {"step": "price", "data": {}}):
            print("a wizard is already running for this admin; resuming it")

        # Each answer is one atomic merge: two handlers racing cannot lose a field.
        store.merge(key, {"step": "duration", "data": {"price": 990}})
        store.update(key, lambda s: {**s, "step": "name", "data": {**s["data"], "days": 30}})
        store.update(key, lambda s: {**s, "step": "confirm", "data": {**s["data"], "name": "Pro"}})
        print("wizard state:", store.get(key))
        print(f"expires in {store.ttl(key):.0f} s unless the admin answers again")

        store.delete(key)  # confirmed: the tariff is created, the wizard is done
        print("wizards still open:", store.count("admin:tariff:"))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "memory://")
