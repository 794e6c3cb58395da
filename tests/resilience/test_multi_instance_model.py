"""Three app instances, each with its own journal, against one Redis through fault proxies.

Each instance (a process: tests/resilience/instance_worker.py) makes random sets, merges,
updates, deletes and creates on 30 shared keys while the test flips its proxy between
forwarding, slowing, refusing and dropping replies, SIGKILLs one instance and restarts it
on the same journal. At the end every instance replays its journal, and Redis must hold, for every
key, what the replay rule promises (docs/resilience.md, "Replay order"): the last
acknowledged write by time. A key is judged only where that last write is unambiguous:
it began after every other operation on the key had returned (or been killed).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from sessionkit import open_store
from tests.faultproxy import Fault, FaultProxy
from tests.redis_servers import RedisProcess

pytestmark = pytest.mark.server

INSTANCES = 3
KEYS = 30
RUN_SECONDS = 8.0
ROOT = Path(__file__).resolve().parents[2]
#: Not BLACKHOLE: a command held in a black-holed connection reaches Redis when the path
#: comes back, after its call failed and was journaled; no rule can order such a write
#: (docs/resilience.md, "Replay order").
FAULTS = [Fault.FORWARD, Fault.FORWARD, Fault.SLOW, Fault.REFUSE, Fault.DROP_MID_REPLY]


def _start(config: dict[str, Any]) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    return subprocess.Popen(
        [sys.executable, "-m", "tests.resilience.instance_worker", json.dumps(config)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _read_log(path: Path) -> list[dict[str, Any]]:
    lines = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        try:
            lines.append(json.loads(raw))
        except json.JSONDecodeError:  # the last line of a killed instance may be torn
            continue
    return lines


#: (began, returned, op, value, result, acknowledged, its id)
Operation = tuple[float, float, str, Any, Any, bool, str]


def _operations(
    logs: list[list[dict[str, Any]]], kills: dict[str, float]
) -> dict[str, list[Operation]]:
    """Per key: every operation on it."""
    by_key: dict[str, list[Operation]] = {}
    for lines in logs:
        started = {line["id"]: line for line in lines if line["event"] == "start"}
        ended = {line["id"]: line for line in lines if line["event"] in ("ack", "fail")}
        for op_id, start in started.items():
            end = ended.get(op_id)
            acknowledged = end is not None and end["event"] == "ack"
            # Unanswered (killed mid-call) or failed: it may or may not have landed, at
            # any time until its call returned or its process died.
            returned = end["t"] if end is not None else kills[op_id.rsplit("-", 1)[0]]
            result = end.get("result") if end is not None else None
            if acknowledged and start["op"] == "create" and result is False:
                continue  # an acknowledged create that did nothing is no write
            by_key.setdefault(start["key"], []).append(
                (start["t"], returned, start["op"], start["value"], result, acknowledged, op_id)
            )
    return by_key


def test_three_instances_with_their_own_journals_agree_on_the_last_write(
    redis_server: RedisProcess, tmp_path: Path
) -> None:
    rng = random.Random(20261204)
    proxies = [FaultProxy(("127.0.0.1", redis_server.port), delay=0.05) for _ in range(INSTANCES)]
    stop = tmp_path / "stop"
    kills: dict[str, float] = {}
    configs = [
        {
            "name": f"i{n}",
            "generation": 0,
            "seed": n,
            "keys": KEYS,
            "port": proxies[n].port,
            "prefix": "model:",
            "journal": str(tmp_path / f"journal-{n}.jsonl"),
            "log": str(tmp_path / f"log-{n}.jsonl"),
            "stop": str(stop),
        }
        for n in range(INSTANCES)
    ]
    procs = [_start(config) for config in configs]
    try:
        began = time.monotonic()
        killed = False
        while time.monotonic() - began < RUN_SECONDS:
            time.sleep(rng.uniform(0.2, 0.6))
            for proxy in proxies:  # each instance's own outages, at random
                proxy.set(rng.choice(FAULTS))
            if not killed and time.monotonic() - began > RUN_SECONDS / 2:
                # A crash: the instance dies with whatever its journal holds, and a new
                # process on the same journal replays it (hours later, in production).
                procs[0].send_signal(signal.SIGKILL)
                procs[0].communicate()
                kills[f"i0-{configs[0]['generation']}"] = time.time()
                killed = True
                configs[0] = {**configs[0], "generation": 1, "seed": 100}
                procs[0] = _start(configs[0])
        for proxy in proxies:
            proxy.set(Fault.FORWARD)
        stop.touch()
        for proc in procs:
            out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err.decode()
            assert out == b""  # a library is silent
    finally:
        for proc in procs:
            if proc.returncode is None:  # not yet reaped: a failure before communicate()
                proc.kill()
                proc.communicate()
        for proxy in proxies:
            proxy.close()

    logs = [_read_log(Path(config["log"])) for config in configs]
    summaries = [line for lines in logs for line in lines if line["event"] == "summary"]
    assert len(summaries) == INSTANCES
    # The faults were real: every surviving instance journaled writes during its outages.
    assert all(summary["journaled"] > 0 for summary in summaries), summaries

    with open_store(f"redis://127.0.0.1:{redis_server.port}/0", prefix="model:") as primary:
        final = {key: primary.get(key) for key in (f"k{i}" for i in range(KEYS))}

    judged = 0
    for key, operations in _operations(logs, kills).items():
        operations.sort()
        last = operations[-1]
        if not last[5] or any(other[1] >= last[0] for other in operations[:-1]):
            continue  # the last write is not unambiguous: no rule to hold it to
        judged += 1
        _, _, op, value, result, _, _ = last
        # What was tried, for a failure's account: the key, what it holds, its last writes.
        account = (key, final[key], operations[-4:])
        if op == "set":
            assert final[key] == value, account
        elif op == "delete":
            assert final[key] is None, account
        elif op == "update":
            assert final[key] == result, account
        elif op == "merge":
            # The newest write of the key: its fields are there (older fields may be too).
            assert final[key] is not None, account
            assert {name: final[key].get(name) for name in value} == value, account
        else:  # create: first writer wins; the key is there, its own value or an older one
            assert final[key] is not None, account
    assert judged >= KEYS * 2 // 3, f"only {judged} of {KEYS} keys had an unambiguous last write"
