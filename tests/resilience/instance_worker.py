"""One app instance for the multi-instance model test: random writes through ``resilient()``.

Run as ``python -m tests.resilience.instance_worker CONFIG_JSON``. Every operation is logged
to ``log`` as a ``start`` line before the call and an ``ack`` (or ``fail``) line after it,
each with the wall-clock time, so the test can tell which writes were acknowledged and in
what order; each line also lists the resilience events since the previous one (for a
failure's account). When ``stop`` exists, the instance replays its journal until it is empty,
writes a summary line and exits.
"""

from __future__ import annotations

import json
import random
import sys
import time
from pathlib import Path
from typing import Any

from sessionkit import StoreUnavailable, open_store
from sessionkit.resilience import Event, RetryPolicy, resilient


class _Counter:
    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        #: The events since the last operation's log line (for a failure's account).
        self.recent: list[str] = []

    def notify(self, event: str, fields: dict[str, Any]) -> None:
        self.counts[event] = self.counts.get(event, 0) + 1
        detail = {k: str(v) for k, v in fields.items() if k in ("key", "error", "op", "outcome")}
        self.recent.append(f"{event.rsplit('.', 1)[-1]} {detail}" if detail else event)

    def take(self) -> list[str]:
        recent, self.recent = self.recent, []
        return recent


def _bump(current: dict[str, Any]) -> dict[str, Any]:
    return {**current, "n": current.get("n", 0) + 1}


def main(config: dict[str, Any]) -> None:
    rng = random.Random(config["seed"])
    keys = [f"k{i}" for i in range(config["keys"])]
    counter = _Counter()
    store = resilient(
        open_store(
            f"redis://127.0.0.1:{config['port']}/0",
            prefix=config["prefix"],
            socket_timeout=0.3,
            socket_connect_timeout=0.3,
        ),
        config["journal"],
        retry=RetryPolicy(attempts=2, initial_wait=0.005, max_wait=0.01, jitter=0.005),
        reset_timeout=0.2,
        observers=[counter],
    )
    stop = Path(config["stop"])
    with open(config["log"], "a", encoding="utf-8") as log:

        def line(**fields: Any) -> None:
            log.write(json.dumps(fields) + "\n")
            log.flush()

        n = 0
        while not stop.exists():
            n += 1
            op_id = f"{config['name']}-{config['generation']}-{n}"
            key = rng.choice(keys)
            op = rng.choice(["set", "set", "merge", "merge", "update", "delete", "create"])
            value = {config["name"]: n, "f": rng.randrange(4)}
            start = {"id": op_id, "key": key, "op": op, "value": value, "t": time.time()}
            line(event="start", **start, events=counter.take())
            try:
                if op == "set":
                    store.set(key, value)
                    result: Any = None
                elif op == "merge":
                    result = store.merge(key, value)
                elif op == "update":
                    result = store.update(key, _bump, default={})
                elif op == "delete":
                    result = store.delete(key)
                else:
                    result = store.create(key, value)
            except StoreUnavailable as error:
                line(
                    event="fail",
                    id=op_id,
                    t=time.time(),
                    error=type(error).__name__,
                    events=counter.take(),
                )
            else:
                line(event="ack", id=op_id, t=time.time(), result=result, events=counter.take())
            time.sleep(rng.uniform(0, 0.004))

        deadline = time.monotonic() + 60
        while not store.replay().completed:
            if time.monotonic() > deadline:
                raise SystemExit("the journal was not replayed within 60 s")
            time.sleep(0.05)
        store.close()
        line(event="replayed", events=counter.take())
        line(
            event="summary",
            counts=counter.counts,
            journaled=counter.counts.get(Event.FALLBACK_JOURNALED, 0),
        )


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
