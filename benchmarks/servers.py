"""Servers on loopback for the benchmarks: gunicorn, wrk, Redis, process memory.

Stdlib only at import time (redis is imported when asked for).
"""

from __future__ import annotations

import json
import math
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks.bootstrap import RESULTS, ROOT, SETTINGS

LUA = ROOT / "benchmarks" / "pair.lua"
REDIS_URL = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/0")


def unused_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop_process(proc: subprocess.Popen[Any], timeout: float = 10.0) -> None:
    """Ask a server process to stop; kill it if it has not after ``timeout``."""
    proc.terminate()
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def memory_of(pid: int) -> dict[str, float]:
    """Resident and proportional set size of a process, in MiB."""
    out: dict[str, float] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                out["rss_mib"] = int(line.split()[1]) / 1024
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                out["pss_mib"] = int(line.split()[1]) / 1024
    except OSError:
        pass
    return out


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds the processes have used (those still alive)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return total


def children_of(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return sorted(found)


def redis_answers() -> bool:
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except Exception:
        return False
    return True


def clear_redis(prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    if keys:
        client.delete(*keys)


@contextmanager
def gunicorn(
    env: dict[str, str],
    workers: int = 2,
    app: str = "benchmarks.wsgi:application",
    settings: str = SETTINGS,
    ready_path: str = "/ping/",
) -> Iterator[tuple[str, int, float]]:
    """gunicorn on loopback: (base URL, master pid, seconds until it answered)."""
    port = unused_port()
    logfile = open(RESULTS / f"gunicorn-{port}.log", "wb")
    start = time.perf_counter()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            app,
            "--workers",
            str(workers),
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "--timeout",
            "120",
        ],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": settings, **env},
        stdout=logfile,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited; see {logfile.name}")
            try:
                with urllib.request.urlopen(base + ready_path, timeout=5) as reply:
                    if reply.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("gunicorn did not answer in 300 s")
            time.sleep(0.1)
        yield base, proc.pid, time.perf_counter() - start
    finally:
        stop_process(proc, timeout=30.0)
        logfile.close()
    Path(logfile.name).unlink()  # kept only when something went wrong


def wrk(
    base: str,
    page: str,
    seconds: float,
    connections: int,
    page_only: bool = False,
    mode: str | None = None,
) -> dict[str, Any]:
    """One wrk run of page+image pairs (or pages alone); what pair.lua prints.

    ``mode`` is pair.lua's: "pair", "page-only", or "inline" (a page counts
    only if it carries its CAPTCHA as a data: URI); by default from page_only.

    The result's "latencies_ms" holds every pair's latency, for merging runs.
    """
    fd, path = tempfile.mkstemp(dir=RESULTS, suffix=".latencies")
    os.close(fd)
    try:
        run = subprocess.run(
            [
                "wrk",
                "-t",
                str(connections),
                "-c",
                str(connections),
                "-d",
                f"{max(1, round(seconds))}s",
                "--timeout",
                "10s",
                "-s",
                str(LUA),
                base,
                "--",
                page,
                mode or ("page-only" if page_only else "pair"),
                path,
            ],
            capture_output=True,
            text=True,
            timeout=seconds + 120,
        )
        latencies = [float(line) / 1e3 for line in Path(path).read_text().split()]
    finally:
        Path(path).unlink(missing_ok=True)
    for line in run.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            data: dict[str, Any] = json.loads(line.removeprefix("BENCH_JSON "))
            data["challenges_per_second"] = (
                data["pairs"] / data["seconds"] if data["seconds"] else 0.0
            )
            data["latencies_ms"] = latencies
            return data
    raise RuntimeError(f"wrk printed no result:\n{run.stdout}\n{run.stderr}")


def merge_runs(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One side's wrk runs (its rounds) as one: rates from sums, exact percentiles."""
    latencies = sorted(value for run in runs for value in run["latencies_ms"])
    pairs = sum(run["pairs"] for run in runs)
    seconds = sum(run["seconds"] for run in runs)

    def percentile(p: float) -> float:
        if not latencies:
            return 0.0
        return latencies[max(0, math.ceil(p / 100 * len(latencies)) - 1)]

    return {
        "pairs": pairs,
        "seconds": seconds,
        "challenges_per_second": pairs / seconds if seconds else 0.0,
        "p50_ms": percentile(50),
        "p99_ms": percentile(99),
        "mean_ms": statistics.mean(latencies) if latencies else 0.0,
        "errors": sum(run["errors"] for run in runs),
        "non_2xx": sum(run["non_2xx"] for run in runs),
        "socket_errors": sum(run["socket_errors"] for run in runs),
        "requests": sum(run["requests"] for run in runs),
        "rounds": [round(run["challenges_per_second"], 1) for run in runs],
    }
