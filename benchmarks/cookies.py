"""Cookie sessions against starsessions, under wrk: requests/s, latency, server CPU per request.

Both apps (benchmarks/cookie_apps.py) run the same routes under uvicorn (one process each,
on loopback, one at a time) against one private redis-server started for the run. For each
app and endpoint, wrk sends a session cookie it got from ``POST /login``; the report gives
requests/s, p50 and p99 latency, the server process's CPU time per request (utime + stime
from /proc/<pid>/stat, before and after the run, over the requests wrk counted) and the
redis-server's CPU time per request (``INFO cpu``, over the same run). Each
(app, endpoint) runs ``--rounds`` times, the apps alternating; medians are reported.

    python -m benchmarks.cookies                    # 10 s per run, 3 rounds
    python -m benchmarks.cookies --duration 3 --rounds 1
    python -m benchmarks.cookies --write-docs       # the section in docs/performance.md

It skips (a line on stderr, exit status 0) when wrk, starsessions, uvicorn or redis-server
is missing.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import attrs

APPS = {
    "sessionkit": "benchmarks.cookie_apps:sessionkit_app",
    "sessionkit, no socket timeout": "benchmarks.cookie_apps:sessionkit_app_without_timeouts",
    "starsessions": "benchmarks.cookie_apps:starsessions_app",
}
ENDPOINTS = {"read": "GET", "write": "POST"}
SECTION = "## Cookie sessions against starsessions"
DOCS = Path(__file__).resolve().parent.parent / "docs" / "performance.md"
_TICKS = os.sysconf("SC_CLK_TCK")


@attrs.frozen
class Run:
    app: str
    endpoint: str
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    cpu_ms_per_request: float
    redis_cpu_ms_per_request: float


def missing() -> str | None:
    """Why the benchmark cannot run here, or None."""
    for tool in ("wrk", "redis-server"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    for package in ("starsessions", "uvicorn"):
        if importlib.util.find_spec(package) is None:
            return f"the {package} package is not installed (pip install {package})"
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(port: int, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with status {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on port {port} within 20 s")


@contextlib.contextmanager
def running(arguments: list[str], port: int, what: str, **options: object) -> Iterator[int]:
    """Start a server process, wait for its port, yield its pid, stop it."""
    process = subprocess.Popen(arguments, stdout=subprocess.DEVNULL, **options)  # type: ignore[call-overload]
    try:
        wait_for_port(port, process, what)
        yield process.pid
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def redis_cpu_seconds(port: int) -> float:
    """The redis-server's CPU time so far (user + system), from INFO cpu."""
    with socket.create_connection(("127.0.0.1", port), 2) as sock:
        sock.sendall(b"INFO cpu\r\n")
        reply = b""
        while b"used_cpu_user:" not in reply or not reply.endswith(b"\r\n"):
            reply += sock.recv(65536)
    values = re.findall(rb"used_cpu_(?:sys|user):([\d.]+)", reply)
    return sum(float(value) for value in values)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime (fields 14 and 15)


def login_cookie(port: int) -> str:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/login", method="POST")
    with urllib.request.urlopen(request, timeout=5) as response:
        header: str = response.headers["set-cookie"]
    return header.split(";", 1)[0]


def wrk(port: int, method: str, cookie: str, duration: float, connections: int) -> dict[str, float]:
    url = f"http://127.0.0.1:{port}/{'read' if method == 'GET' else 'write'}"
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(f'wrk.method = "{method}"\nwrk.headers["Cookie"] = "{cookie}"\n')
    try:
        output = subprocess.run(
            ["wrk", "-t1", f"-c{connections}", f"-d{duration:g}s", "--latency",
             "-s", script.name, url],
            capture_output=True, text=True, check=True, timeout=duration + 60,
        ).stdout  # fmt: skip
    finally:
        os.unlink(script.name)
    if "Non-2xx" in output or "Socket errors" in output:
        raise RuntimeError(f"wrk saw errors:\n{output}")
    return {
        "requests": float(re.search(r"(\d+) requests in", output).group(1)),  # type: ignore[union-attr]
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),  # type: ignore[union-attr]
        "p50": _latency_ms(output, "50%"),
        "p99": _latency_ms(output, "99%"),
    }


def _latency_ms(output: str, percentile: str) -> float:
    match = re.search(rf"^\s*{percentile}\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE)
    assert match is not None, output
    value, unit = float(match.group(1)), match.group(2)
    return value * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def measure(app: str, redis_port: int, duration: float, connections: int) -> list[Run]:
    port = free_port()
    environment = {**os.environ, "BENCH_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0"}
    arguments = [sys.executable, "-m", "uvicorn", "--factory", APPS[app], "--host", "127.0.0.1",
                 "--port", str(port), "--no-access-log", "--log-level", "warning"]  # fmt: skip
    runs = []
    with running(arguments, port, f"uvicorn ({app})", env=environment) as pid:
        cookie = login_cookie(port)
        for endpoint, method in ENDPOINTS.items():
            wrk(port, method, cookie, 1, connections)  # warm-up: connections, scripts, caches
            cpu_before, redis_before = cpu_seconds(pid), redis_cpu_seconds(redis_port)
            result = wrk(port, method, cookie, duration, connections)
            cpu = cpu_seconds(pid) - cpu_before
            redis_cpu = redis_cpu_seconds(redis_port) - redis_before
            requests = result["requests"]
            runs.append(Run(app, endpoint, result["rps"], result["p50"], result["p99"],
                            1000 * cpu / requests, 1000 * redis_cpu / requests))  # fmt: skip
    return runs


def median_runs(runs: list[Run]) -> list[Run]:
    keys = dict.fromkeys((run.endpoint, run.app) for run in runs)
    medians = []
    for endpoint, app in sorted(keys, key=lambda pair: (pair[0], list(APPS).index(pair[1]))):
        same = [run for run in runs if (run.app, run.endpoint) == (app, endpoint)]
        medians.append(Run(app, endpoint, *(
            statistics.median(getattr(run, field) for run in same)
            for field in ("requests_per_s", "p50_ms", "p99_ms", "cpu_ms_per_request",
                          "redis_cpu_ms_per_request")
        )))  # fmt: skip
    return medians


def table(runs: list[Run], *, duration: float, rounds: int, connections: int) -> str:
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    stamp = f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M}"
    lines = [
        SECTION,
        "",
        f"Measured {stamp} UTC with `python -m benchmarks.cookies` "
        f"on {os.cpu_count()} cores (load average {load} at the end): wrk, 1 thread, "
        f"{connections} connections, {duration:g} s per run, median of {rounds} rounds; one "
        "uvicorn process per app on loopback, one private redis-server for both. `read` only "
        "reads the session; `write` changes one key. CPU is the uvicorn process's user + "
        "system time over the requests served, Redis CPU the redis-server's (INFO cpu).",
        "",
        "| endpoint | middleware | requests/s | p50 ms | p99 ms | server CPU ms/request "
        "| Redis CPU ms/request |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for run in runs:
        lines.append(
            f"| {run.endpoint} | {run.app} | {run.requests_per_s:.0f} | {run.p50_ms:.2f} "
            f"| {run.p99_ms:.2f} | {run.cpu_ms_per_request:.3f} "
            f"| {run.redis_cpu_ms_per_request:.3f} |"
        )
    lines += [
        "",
        "starsessions writes the whole session back on every response that has one, reads "
        "included (its `rolling` expiry and its metadata); sessionkit writes only a "
        "changed key, and a read slides the expiry with a TTL-only touch at most once per "
        "`refresh_interval`. A sessionkit write costs Redis more CPU than starsessions' "
        "plain SET: the atomic merge runs as a script that splices the changed fields into "
        "the stored JSON (what keeps concurrent requests' changes). The \"no socket "
        "timeout\" row configures the store's client as starsessions' is configured here "
        "(no timeout on a call): it shows what the store's bound on every call costs.",
        "",
    ]
    return "\n".join(lines)


def write_docs(section: str, path: Path = DOCS) -> None:
    """Put ``section`` in the docs page, replacing an earlier one (and nothing else)."""
    text = path.read_text()
    start = text.find(SECTION)
    if start == -1:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        following = text.find("\n## ", start + len(SECTION))
        end = len(text) if following == -1 else following + 1
        text = text[:start] + section + ("\n" + text[end:] if following != -1 else "")
    path.write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cookies", description=__doc__)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--write-docs", action="store_true")
    options = parser.parse_args(argv)
    reason = missing()
    if reason is not None:
        print(f"skipped benchmarks.cookies: {reason}", file=sys.stderr)
        return 0
    redis_port = free_port()
    with tempfile.TemporaryDirectory() as directory, running(
        ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", directory],
        redis_port, "redis-server",
    ):  # fmt: skip
        runs = []
        for number in range(options.rounds):
            order = list(APPS) if number % 2 == 0 else list(reversed(APPS))
            for app in order:
                runs += measure(app, redis_port, options.duration, options.connections)
    section = table(median_runs(runs), duration=options.duration, rounds=options.rounds,
                    connections=options.connections)  # fmt: skip
    print(section)
    if options.write_docs:
        write_docs(section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
