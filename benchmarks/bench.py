"""Speed and memory: ours against the seed pipeline and django-simple-captcha.

    make bench                                  # installs requirements-bench.txt
    .venv/bin/python -m benchmarks.bench [--quick] [--db auto|sqlite|postgres]

Everything is measured in one run on one machine, so the ratios mean something;
the absolute figures are this machine's. The contenders of a section are timed
in interleaved rounds (a slice of each in turn, the order rotating), so that a
change in the machine's speed falls on all of them alike. Prints tables and
writes benchmarks/results/bench.json. Sections (each can be skipped with --skip):

  seed      the seed pipeline as written: generator.predict() on 4 noise
            vectors, reader.predict(), a matplotlib figure saved to PNG
            (interleaved with inproc's rounds unless that is skipped)
  inproc    one challenge made and its image fetched, through Django's test
            client: django-simple-captcha, ours from the pool (database and
            Redis stores), then ours drawn on the spot
  http      gunicorn, 2 workers per side, on loopback, loaded by wrk: GET the
            signup page, then GET its CAPTCHA image; ours (pool-only workers)
            and the peer's equivalent page, and the page with no CAPTCHA
  startup   a worker's start-up (django.setup(), so ready() and any model
            load) and its resident memory
  training  images/s of the GAN step: ours, the TF DCGAN tutorial's, each
            also with XLA (jit_compile=True)
  issuing   CPU time and bytes stored per page view, ours (default, and from
            a pool) against django-simple-captcha (benchmarks/issuing_cost.py)
  sustained a minute of load per row while challenges are drawn on the same
            machine: the demo as shipped, pool-only workers + a producer, the
            inline image, against the peer; and the producer's challenges/s,
            old path against new (benchmarks/sustained.py)
  onnx      the serving networks in ONNX Runtime against Keras: time per
            call and a loading process's peak RSS (benchmarks/onnx_serving.py)

Rate limits are off (benchmarks/settings.py). Not part of the test suite.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import io
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Ports and server processes the tests' way (stdlib only, no Django).
from tests.services import stop_process, unused_port

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
LUA = ROOT / "benchmarks" / "pair.lua"
SECTIONS = (
    "seed",
    "inproc",
    "http",
    "startup",
    "training",
    "issuing",
    "sustained",
    "onnx",
)
PG_DEFAULTS = {
    "host": "127.0.0.1",
    "port": "5432",
    "user": "postgres",
    "dbname": "test",
}
REDIS_URL = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/0")


@dataclass
class Counts:
    """How much work each section does."""

    seed: int
    inproc: int
    warmup: int
    http_seconds: float
    http_warmup: float
    connections: int
    rounds: int
    startup_repeats: int
    train_steps: int


FULL = Counts(
    seed=30,
    inproc=1000,
    warmup=20,
    http_seconds=15.0,
    http_warmup=3.0,
    connections=4,
    rounds=5,
    startup_repeats=3,
    train_steps=30,
)
QUICK = Counts(
    seed=3,
    inproc=20,
    warmup=2,
    http_seconds=2.0,
    http_warmup=1.0,
    connections=2,
    rounds=1,
    startup_repeats=1,
    train_steps=2,
)


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# Timing ---------------------------------------------------------------------


def measure(fn: Callable[[], object], iterations: int, warmup: int) -> dict[str, Any]:
    """Per-call wall times of fn (after warmup calls), summarised."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(iterations):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return summarise(times)


def summarise(times: list[float]) -> dict[str, Any]:
    ordered = sorted(times)
    total = sum(ordered)
    return {
        "iterations": len(ordered),
        "mean_ms": 1000 * total / len(ordered),
        "p50_ms": 1000 * ordered[len(ordered) // 2],
        "p99_ms": 1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))],
        "per_second": len(ordered) / total if total else 0.0,
    }


# Environment ------------------------------------------------------------------


def postgres_answers() -> bool:
    try:
        import psycopg

        psycopg.connect(**PG_DEFAULTS, connect_timeout=2).close()
    except Exception:
        return False
    return True


def redis_answers() -> bool:
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except Exception:
        return False
    return True


@contextmanager
def database(kind: str) -> Iterator[str]:
    """Point benchmarks.settings at a fresh SQLite file or PostgreSQL schema."""
    if kind == "auto":
        kind = "postgres" if postgres_answers() else "sqlite"
    os.environ["BENCH_DB"] = kind
    if kind == "sqlite":
        path = RESULTS / f"bench-{os.getpid()}.sqlite3"
        os.environ["BENCH_SQLITE"] = str(path)
        try:
            yield "sqlite"
        finally:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    import psycopg

    schema = f"gc_bench_{os.getpid()}"
    os.environ["BENCH_PG_SCHEMA"] = schema
    with psycopg.connect(**PG_DEFAULTS, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        conn.execute(f'CREATE SCHEMA "{schema}"')
        try:
            yield "postgres"
        finally:
            from django.db import connections

            connections.close_all()
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


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


# (a) The seed pipeline ---------------------------------------------------------


def seed_challenge(model_dir: Path) -> Callable[[], tuple[str, bytes]]:
    """The seed's per-request path, as written: predict(), predict(), pyplot."""
    import matplotlib

    matplotlib.use("Agg")
    import keras
    import matplotlib.pyplot as plt
    import tensorflow as tf

    from gancaptcha_field import constants

    generator = keras.models.load_model(
        model_dir / constants.GENERATOR_FILE, compile=False
    )
    reader = keras.models.load_model(model_dir / constants.READER_FILE, compile=False)

    def one_challenge() -> tuple[str, bytes]:
        noise = tf.random.normal([4, constants.LATENT_DIM])
        images = generator.predict(noise, verbose=0)
        probabilities = reader.predict((images + 1.0) / 2.0, verbose=0)
        answer = "".join(str(d) for d in probabilities.argmax(axis=1))
        figure = plt.figure(figsize=(4, 1))
        for i in range(4):
            plt.subplot(1, 4, i + 1)
            plt.imshow(images[i, :, :, 0] * 127.5 + 127.5, cmap="gray")
            plt.axis("off")
        buffer = io.BytesIO()
        plt.savefig(buffer, format="png")
        plt.close(figure)
        return answer, buffer.getvalue()

    return one_challenge


def bench_seed(model_dir: Path, counts: Counts) -> dict[str, Any]:
    """The seed pipeline alone (when the in-process section is skipped)."""
    return measure(seed_challenge(model_dir), counts.seed, max(1, counts.warmup // 10))


# (b), (c) In-process, through the test client ---------------------------------


def peer_challenge() -> Callable[[], None]:
    """django-simple-captcha: its refresh view (a new challenge), then its image."""
    from django.test import Client

    client = Client()

    def one_challenge() -> None:
        fresh = client.get("/captcha/refresh/", HTTP_X_REQUESTED_WITH="XMLHttpRequest")
        image = client.get(fresh.json()["image_url"])
        assert image.status_code == 200 and image["Content-Type"] == "image/png"

    return one_challenge


def ours_challenge() -> Callable[[], None]:
    """Ours: the refresh view (a new challenge), then its image."""
    from django.test import Client

    client = Client()

    def one_challenge() -> None:
        # URL-encoded, as the widget's script posts it (URLSearchParams).
        fresh = client.post(
            "/gancaptcha/refresh/",
            "",
            content_type="application/x-www-form-urlencoded",
        )
        assert fresh.status_code == 200, fresh.content
        image = client.get(fresh.json()["image_url"])
        assert image.status_code == 200 and image["Content-Type"] == "image/png"

    return one_challenge


@dataclass
class Case:
    """One in-process contender: its unit of work, how often, under what settings."""

    name: str
    fn: Callable[[], object]
    iterations: int
    warmup: int
    settings: dict[str, Any] | None = None


def measure_interleaved(cases: list[Case], rounds: int) -> dict[str, dict[str, Any]]:
    """Time every case in turn, a slice per round (rotating), as run_http does.

    A change in the machine's speed during the section then falls on every
    case alike. Each case's settings are in force only during its own calls.
    """
    from django.test import override_settings

    def context(case: Case) -> Any:
        return override_settings(**case.settings) if case.settings else nullcontext()

    times: dict[str, list[float]] = {case.name: [] for case in cases}
    for case in cases:
        with context(case):
            for _ in range(case.warmup):
                case.fn()
    for number in range(rounds):
        turn = number % len(cases)
        for case in cases[turn:] + cases[:turn]:
            share = case.iterations // rounds + (
                1 if number < case.iterations % rounds else 0
            )
            with context(case):
                for _ in range(share):
                    start = time.perf_counter()
                    case.fn()
                    times[case.name].append(time.perf_counter() - start)
    return {name: summarise(values) for name, values in times.items()}


def fill_pool(count: int) -> dict[str, Any]:
    """Top the pool up to ``count`` and time the producer."""
    from gancaptcha_field.supply import pool, registry

    status = registry.get_registry().status()  # loads the models once
    if not status.ok:
        raise RuntimeError(status.message)
    before = pool.size()
    start = time.perf_counter()
    made = pool.fill(target=count, batch=256)
    seconds = time.perf_counter() - start
    rows = pool.size()
    log(f"pool: {before} -> {rows} challenges ({made} drawn in {seconds:.1f}s)")
    return {
        "made": made,
        "seconds": seconds,
        "per_second": made / seconds if made and seconds else None,
    }


def pool_row_bytes() -> float | None:
    from gancaptcha_field.models import PooledChallenge

    rows = list(PooledChallenge.objects.values_list("png", "png_2x")[:100])
    if not rows:
        return None
    return statistics.mean(len(bytes(a)) + len(bytes(b)) for a, b in rows)


def clear_redis(prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    if keys:
        client.delete(*keys)


def run_inproc(
    counts: Counts, models_ok: bool, seed_dir: Path | None
) -> dict[str, Any]:
    """The seed (unless skipped), the peer and ours from the pool, interleaved."""
    from gancaptcha_field.supply import pool

    out: dict[str, Any] = {}
    cases = [Case("peer", peer_challenge(), counts.inproc, counts.warmup)]
    if seed_dir is not None:
        cases.insert(
            0,
            Case(
                "seed", seed_challenge(seed_dir), counts.seed, counts.warmup // 10 + 1
            ),
        )
    prefix = f"gc_bench_{os.getpid()}"
    with_redis = models_ok and redis_answers()
    if models_ok:
        needed = counts.inproc + counts.warmup
        # Both pool runs take from the one pool, filled for both beforehand
        # (each may also hold a batch it took ahead: GANCAPTCHA_POOL_RESERVE).
        from gancaptcha_field.conf import conf

        sides = 2 if with_redis else 1
        out["pool_fill"] = fill_pool(sides * (needed + conf.POOL_RESERVE) + 10)
        out["pool_row_bytes"] = pool_row_bytes()
        cases.append(
            Case(
                "ours_pool",
                ours_challenge(),
                counts.inproc,
                counts.warmup,
                {"GANCAPTCHA_POOL_SIZE": needed, "GANCAPTCHA_POOL_ONLY": True},
            )
        )
        if with_redis:
            caches_setting = {
                "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
                "captcha": {
                    "BACKEND": "django.core.cache.backends.redis.RedisCache",
                    "LOCATION": REDIS_URL,
                    "KEY_PREFIX": prefix,
                },
            }
            cases.append(
                Case(
                    "ours_pool_redis",
                    ours_challenge(),
                    counts.inproc,
                    counts.warmup,
                    {
                        "CACHES": caches_setting,
                        "GANCAPTCHA_STORE": "cache",
                        "GANCAPTCHA_POOL_SIZE": needed,
                        "GANCAPTCHA_POOL_ONLY": True,
                    },
                )
            )
        else:
            out["ours_pool_redis"] = {"skipped": "Redis does not answer"}
    else:
        out["ours_skipped"] = "models missing"
    names = ", ".join(case.name for case in cases)
    log(f"inproc: {names}, interleaved in {counts.rounds} rounds")
    try:
        measured = measure_interleaved(cases, counts.rounds)
    finally:
        if with_redis:
            from django.core.cache import caches

            caches.close_all()
            clear_redis(prefix)
    seed = measured.pop("seed", None)
    out.update(measured)
    if models_ok:
        pool.clear()
        log("inproc: ours, drawn on the spot (no pool)")
        from django.test import override_settings

        with override_settings(GANCAPTCHA_POOL_SIZE=0):
            out["ours_on_the_spot"] = measure(
                ours_challenge(), counts.inproc, counts.warmup
            )
    if seed is not None:
        out["seed"] = seed
    return out


# (d) HTTP -----------------------------------------------------------------------


@contextmanager
def gunicorn(
    env: dict[str, str],
    workers: int = 2,
    app: str = "benchmarks.wsgi:application",
    settings: str = "benchmarks.settings",
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


@dataclass
class Side:
    """One page served by its own gunicorn in the HTTP section."""

    name: str
    page: str
    env: dict[str, str]
    page_only: bool = False
    takes_from_pool: bool = False
    mode: str | None = None  # pair.lua's mode; "inline" for the inline image


def run_http(counts: Counts, models_ok: bool) -> dict[str, Any]:
    """Every side's server up at once, timed in interleaved rounds.

    Each side gets counts.http_seconds in all, in counts.rounds slices taken
    in turn (the order rotating every round), so that a change in the
    machine's speed during the run falls on every side alike instead of on
    whichever ran at that moment.
    """
    if shutil.which("wrk") is None:
        return {"skipped": "wrk not installed (apt-get install -y wrk)"}
    from gancaptcha_field.supply import pool

    ours_env = {"BENCH_SIDE": "ours", "BENCH_POOL_ONLY": "1", "BENCH_POOL_SIZE": "1"}
    # The same page with no CAPTCHA at all: what a CAPTCHA that cost nothing
    # (page and image) would reach, the ceiling for both sides.
    sides = [
        Side("plain", "/plain/signup/", {"BENCH_SIDE": "none"}, page_only=True),
        Side("peer", "/peer/signup/", {"BENCH_SIDE": "peer"}),
    ]
    out: dict[str, Any] = {}
    redis_prefix = f"gc_bench_http_{os.getpid()}"
    if models_ok:
        # Pool-only workers never load TensorFlow; the pool is filled
        # beforehand, so that the timed rounds never run dry (an empty pool
        # would show as errors).
        sides.append(Side("ours_pool", "/ours/signup/", ours_env, takes_from_pool=True))
        # GANCAPTCHA_INLINE_IMAGE: the page alone carries the PNG.
        sides.append(
            Side(
                "ours_pool_inline",
                "/ours/signup/",
                {**ours_env, "BENCH_INLINE": "1"},
                takes_from_pool=True,
                mode="inline",
            )
        )
        if redis_answers():
            redis_env = {
                **ours_env,
                "BENCH_STORE": "cache",
                "BENCH_REDIS_PREFIX": redis_prefix,
            }
            sides.append(
                Side(
                    "ours_pool_redis", "/ours/signup/", redis_env, takes_from_pool=True
                )
            )
    else:
        out["ours_skipped"] = "models missing"
    try:
        with ExitStack() as stack:
            servers = {}
            for side in sides:
                log(f"http: starting gunicorn for {side.name}")
                servers[side.name] = stack.enter_context(gunicorn(side.env))
            warm: dict[str, dict[str, Any]] = {}
            for side in sides:
                if side.takes_from_pool:
                    peer_rate = warm["peer"]["challenges_per_second"]
                    fill_pool(int(max(peer_rate * 4, 200) * (counts.http_warmup + 1)))
                log(f"http: {side.name}: warm-up {counts.http_warmup:.0f}s")
                base = servers[side.name][0]
                warm[side.name] = wrk(
                    base,
                    side.page,
                    counts.http_warmup,
                    counts.connections,
                    side.page_only,
                    side.mode,
                )
            peer_rate = warm["peer"]["challenges_per_second"]
            needed = 0.0
            for side in sides:
                if side.takes_from_pool:
                    rate = warm[side.name]["challenges_per_second"]
                    if warm[side.name]["errors"] or warm[side.name]["non_2xx"]:
                        rate = max(rate, 4 * peer_rate)  # ran dry: understated
                    needed += max(rate, peer_rate) * counts.http_seconds * 1.3 + 200
            if needed:
                fill_pool(int(needed))
            runs: dict[str, list[dict[str, Any]]] = {side.name: [] for side in sides}
            slice_s = counts.http_seconds / counts.rounds
            for number in range(counts.rounds):
                turn = number % len(sides)
                for side in sides[turn:] + sides[:turn]:
                    log(f"http: round {number + 1}/{counts.rounds}: {side.name}")
                    runs[side.name].append(
                        wrk(
                            servers[side.name][0],
                            side.page,
                            slice_s,
                            counts.connections,
                            side.page_only,
                            side.mode,
                        )
                    )
            for side in sides:
                base, master, ready_s = servers[side.name]
                result = merge_runs(runs[side.name])
                result["gunicorn_ready_s"] = ready_s
                result["workers"] = [memory_of(pid) for pid in children_of(master)]
                result["warmup_challenges_per_second"] = warm[side.name][
                    "challenges_per_second"
                ]
                if side.takes_from_pool:
                    result["pool_ran_dry"] = pool.size() == 0
                out[side.name] = result
    finally:
        if any(side.name == "ours_pool_redis" for side in sides):
            clear_redis(redis_prefix)
        if models_ok:
            pool.clear()
    return out


# (e) Start-up and memory ------------------------------------------------------

STARTUP_SCRIPT = """
import json, time
start = time.perf_counter()
import django
django.setup()
ready = time.perf_counter() - start
from django.test import Client
client = Client()
status = client.get(PAGE).status_code
first = time.perf_counter() - start
rss = pss = 0.0
for line in open("/proc/self/status"):
    if line.startswith("VmRSS:"):
        rss = int(line.split()[1]) / 1024
for line in open("/proc/self/smaps_rollup"):
    if line.startswith("Pss:"):
        pss = int(line.split()[1]) / 1024
import sys
print(json.dumps({"setup_s": ready, "first_page_s": first, "status": status,
                  "rss_mib": rss, "pss_mib": pss,
                  "tensorflow": "tensorflow" in sys.modules}))
"""


def run_startup(counts: Counts, models_ok: bool) -> dict[str, Any]:
    configs = {
        "peer": ({"BENCH_SIDE": "peer"}, "/peer/signup/"),
        "ours_pool_only": (
            {"BENCH_SIDE": "ours", "BENCH_POOL_ONLY": "1", "BENCH_POOL_SIZE": "1"},
            "/ours/signup/",
        ),
    }
    if models_ok:
        configs["ours_models_loaded"] = (
            {"BENCH_SIDE": "ours", "BENCH_PRELOAD": "1", "BENCH_POOL_SIZE": "0"},
            "/ours/signup/",
        )
    out: dict[str, Any] = {}
    for name, (env, page) in configs.items():
        runs = []
        for _ in range(counts.startup_repeats):
            script = STARTUP_SCRIPT.replace("PAGE", repr(page))
            run = subprocess.run(
                [sys.executable, "-c", script],
                cwd=ROOT,
                env={
                    **os.environ,
                    "DJANGO_SETTINGS_MODULE": "benchmarks.settings",
                    **env,
                },
                capture_output=True,
                text=True,
                timeout=600,
            )
            if run.returncode != 0:
                raise RuntimeError(f"start-up run {name} failed:\n{run.stderr}")
            runs.append(json.loads(run.stdout.strip().splitlines()[-1]))
        out[name] = {
            key: statistics.median(r[key] for r in runs)
            for key in ("setup_s", "first_page_s", "rss_mib", "pss_mib")
        }
        out[name]["tensorflow_imported"] = runs[0]["tensorflow"]
        out[name]["page_status"] = runs[0]["status"]
    return out


# (f) Training throughput --------------------------------------------------------


def seed_tutorial_step(batch_size: int, jit: bool) -> Callable[[Any], Any]:
    """The TensorFlow DCGAN tutorial's models, losses and train_step, verbatim
    but for Keras 3's keras.Input in place of input_shape=."""
    import tensorflow as tf
    from tensorflow.keras import layers

    def make_generator_model() -> Any:
        model = tf.keras.Sequential()
        model.add(tf.keras.Input(shape=(100,)))
        model.add(layers.Dense(7 * 7 * 256, use_bias=False))
        model.add(layers.BatchNormalization())
        model.add(layers.LeakyReLU())
        model.add(layers.Reshape((7, 7, 256)))
        model.add(
            layers.Conv2DTranspose(
                128, (5, 5), strides=(1, 1), padding="same", use_bias=False
            )
        )
        model.add(layers.BatchNormalization())
        model.add(layers.LeakyReLU())
        model.add(
            layers.Conv2DTranspose(
                64, (5, 5), strides=(2, 2), padding="same", use_bias=False
            )
        )
        model.add(layers.BatchNormalization())
        model.add(layers.LeakyReLU())
        model.add(
            layers.Conv2DTranspose(
                1,
                (5, 5),
                strides=(2, 2),
                padding="same",
                use_bias=False,
                activation="tanh",
            )
        )
        return model

    def make_discriminator_model() -> Any:
        model = tf.keras.Sequential()
        model.add(tf.keras.Input(shape=(28, 28, 1)))
        model.add(layers.Conv2D(64, (5, 5), strides=(2, 2), padding="same"))
        model.add(layers.LeakyReLU())
        model.add(layers.Dropout(0.3))
        model.add(layers.Conv2D(128, (5, 5), strides=(2, 2), padding="same"))
        model.add(layers.LeakyReLU())
        model.add(layers.Dropout(0.3))
        model.add(layers.Flatten())
        model.add(layers.Dense(1))
        return model

    generator = make_generator_model()
    discriminator = make_discriminator_model()
    cross_entropy = tf.keras.losses.BinaryCrossentropy(from_logits=True)

    def discriminator_loss(real_output: Any, fake_output: Any) -> Any:
        real_loss = cross_entropy(tf.ones_like(real_output), real_output)
        fake_loss = cross_entropy(tf.zeros_like(fake_output), fake_output)
        return real_loss + fake_loss

    def generator_loss(fake_output: Any) -> Any:
        return cross_entropy(tf.ones_like(fake_output), fake_output)

    generator_optimizer = tf.keras.optimizers.Adam(1e-4)
    discriminator_optimizer = tf.keras.optimizers.Adam(1e-4)
    noise_dim = 100

    def train_step(images: Any) -> Any:
        noise = tf.random.normal([batch_size, noise_dim])
        with tf.GradientTape() as gen_tape, tf.GradientTape() as disc_tape:
            generated_images = generator(noise, training=True)
            real_output = discriminator(images, training=True)
            fake_output = discriminator(generated_images, training=True)
            gen_loss = generator_loss(fake_output)
            disc_loss = discriminator_loss(real_output, fake_output)
        gradients_of_generator = gen_tape.gradient(
            gen_loss, generator.trainable_variables
        )
        gradients_of_discriminator = disc_tape.gradient(
            disc_loss, discriminator.trainable_variables
        )
        generator_optimizer.apply_gradients(
            zip(gradients_of_generator, generator.trainable_variables, strict=True)
        )
        discriminator_optimizer.apply_gradients(
            zip(
                gradients_of_discriminator,
                discriminator.trainable_variables,
                strict=True,
            )
        )
        return gen_loss

    return tf.function(train_step, jit_compile=jit or None)


def our_step(batch_size: int, jit: bool, **config: Any) -> Callable[[Any], Any]:
    """GanTrainer's compiled step (the one train_captcha_models runs)."""
    import tensorflow as tf

    from gancaptcha_field.training.gan import GanConfig, GanTrainer

    trainer = GanTrainer(GanConfig(batch_size=batch_size, **config))
    if not jit:
        return trainer._step  # type: ignore[no-any-return]
    return tf.function(trainer._train_step, jit_compile=True)  # type: ignore[no-any-return]


def our_bf16_step(batch_size: int, jit: bool) -> Callable[[Any], Any]:
    """GanTrainer's step computing in bfloat16 (--mixed-precision), if it has one."""
    import keras

    from gancaptcha_field.training.gan import GanConfig

    if "mixed_precision" not in GanConfig.__dataclass_fields__:
        raise RuntimeError("this GanTrainer has no mixed precision")
    previous = keras.config.dtype_policy()
    try:
        return our_step(batch_size, jit, mixed_precision=True)
    finally:
        keras.config.set_dtype_policy(previous)


def wait_for(result: Any) -> None:
    """Read a step's result: returns once the step has run."""
    import numpy as np

    np.asarray(result[0] if isinstance(result, tuple) else result)


def run_training(counts: Counts) -> dict[str, Any]:
    import numpy as np
    import tensorflow as tf

    from gancaptcha_field import constants

    batch_size = 256
    with np.load(ROOT / "ml_models" / constants.BUNDLED_DATA_FILE) as data:
        x = data["x_train"][: batch_size * 8]
    images = constants.uint8_to_generator_range(x.astype(np.float32))[..., None]
    batches = [
        tf.constant(images[i : i + batch_size])
        for i in range(0, len(images), batch_size)
    ]
    out: dict[str, Any] = {"batch_size": batch_size, "steps": counts.train_steps}
    for name, factory, jit in (
        ("seed", seed_tutorial_step, False),
        ("seed_xla", seed_tutorial_step, True),
        ("ours", our_step, False),
        ("ours_xla", our_step, True),
        ("ours_bf16", our_bf16_step, False),
    ):
        log(f"training: {name}")
        try:
            step = factory(batch_size, jit)
            for batch in batches[:2]:  # trace (and compile)
                wait_for(step(batch))
            start = time.perf_counter()
            for i in range(counts.train_steps):
                result = step(batches[i % len(batches)])
            wait_for(result)  # the last step has finished
            seconds = time.perf_counter() - start
            out[name] = {"images_per_second": counts.train_steps * batch_size / seconds}
        except Exception as exc:  # XLA may refuse an op; say so, go on
            out[name] = {"failed": f"{type(exc).__name__}: {exc}"[:300]}
    return out


# Report -----------------------------------------------------------------------


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a and b else None


def targets(results: dict[str, Any]) -> dict[str, Any]:
    """The goals of issue 3, checked against this run's figures."""
    inproc = results.get("inproc", {})
    http = results.get("http", {})
    seed_ms = results.get("seed", {}).get("mean_ms")
    ours_ms = inproc.get("ours_pool", {}).get("mean_ms")
    peer_ms = inproc.get("peer", {}).get("mean_ms")
    ours_http = http.get("ours_pool", {})
    peer_http = http.get("peer", {})
    out: dict[str, Any] = {
        "inproc_vs_seed": ratio(seed_ms, ours_ms),
        "inproc_vs_peer": ratio(peer_ms, ours_ms),
        "http_vs_peer": ratio(
            ours_http.get("challenges_per_second"),
            peer_http.get("challenges_per_second"),
        ),
        "http_inline_vs_peer": ratio(
            http.get("ours_pool_inline", {}).get("challenges_per_second"),
            peer_http.get("challenges_per_second"),
        ),
        "http_p99_ours_ms": ours_http.get("p99_ms"),
        "http_p99_peer_ms": peer_http.get("p99_ms"),
    }
    out["met"] = {
        "inproc_100x_seed": (out["inproc_vs_seed"] or 0) >= 100,
        "inproc_2x_peer": (out["inproc_vs_peer"] or 0) >= 2,
        "http_2x_peer": (out["http_vs_peer"] or 0) >= 2,
        "http_inline_2x_peer": (out["http_inline_vs_peer"] or 0) >= 2,
        "http_p99_no_worse": bool(
            out["http_p99_ours_ms"]
            and out["http_p99_peer_ms"]
            and out["http_p99_ours_ms"] <= out["http_p99_peer_ms"]
        ),
    }
    sustained = results.get("sustained", {})
    if "peer" in sustained:
        from benchmarks.sustained import targets as sustained_targets

        out["met"].update(sustained_targets(sustained))
    return out


def fmt(value: float | None, spec: str = ".1f", suffix: str = "") -> str:
    return "—" if value is None else f"{value:{spec}}{suffix}"


def table(results: dict[str, Any]) -> str:
    """Markdown tables of the figures (what README's Performance section shows)."""
    lines: list[str] = []
    seed = results.get("seed", {})
    inproc = results.get("inproc", {})
    peer_ms = inproc.get("peer", {}).get("mean_ms")
    seed_ms = seed.get("mean_ms")
    rows = [
        ("Seed pipeline (predict() + matplotlib)", seed),
        ("django-simple-captcha 0.7.0", inproc.get("peer", {})),
        ("Ours, pool, database store", inproc.get("ours_pool", {})),
        ("Ours, pool, Redis store", inproc.get("ours_pool_redis", {})),
        ("Ours, drawn on the spot (no pool)", inproc.get("ours_on_the_spot", {})),
    ]
    rows = [(label, row) for label, row in rows if "mean_ms" in row]
    if rows:
        lines += [
            "| One challenge made and its image fetched, in process | mean ms | "
            "p99 ms | challenges/s | x seed | x django-simple-captcha |",
            "|---|---:|---:|---:|---:|---:|",
        ]
    for label, row in rows:
        lines.append(
            f"| {label} | {fmt(row['mean_ms'], '.2f')} | {fmt(row['p99_ms'], '.2f')} "
            f"| {fmt(row['per_second'], '.0f')} "
            f"| {fmt(ratio(seed_ms, row['mean_ms']), '.0f', 'x')} "
            f"| {fmt(ratio(peer_ms, row['mean_ms']), '.1f', 'x')} |"
        )
    http = results.get("http", {})
    if "peer" in http:
        peer_rate = http["peer"]["challenges_per_second"]
        lines += [
            "",
            "| Page + its image over HTTP (gunicorn, 2 workers) | challenges/s | "
            "p50 ms | p99 ms | errors | RSS per worker MiB | x django-simple-captcha |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for label, key in (
            ("The page alone, no CAPTCHA (the ceiling)", "plain"),
            ("django-simple-captcha 0.7.0", "peer"),
            ("Ours, pool-only workers, database store", "ours_pool"),
            ("Ours, pool-only, inline image (the page alone)", "ours_pool_inline"),
            ("Ours, pool-only workers, Redis store", "ours_pool_redis"),
        ):
            row = http.get(key)
            if not row or "pairs" not in row:
                continue
            rss = [w.get("rss_mib", 0.0) for w in row.get("workers", [])]
            lines.append(
                f"| {label} | {row['challenges_per_second']:.0f} "
                f"| {row['p50_ms']:.1f} | {row['p99_ms']:.1f} "
                f"| {row['errors'] + row['non_2xx'] + row['socket_errors']} "
                f"| {fmt(statistics.mean(rss) if rss else None, '.0f')} "
                f"| {fmt(ratio(row['challenges_per_second'], peer_rate), '.1f', 'x')} |"
            )
    startup = results.get("startup", {})
    if startup:
        lines += [
            "",
            "| Worker start-up (django.setup(), ready()) | seconds | RSS MiB | "
            "PSS MiB | TensorFlow loaded |",
            "|---|---:|---:|---:|---|",
        ]
        for label, key in (
            ("django-simple-captcha 0.7.0", "peer"),
            ("Ours, pool-only (GANCAPTCHA_POOL_ONLY)", "ours_pool_only"),
            ("Ours, models loaded (GANCAPTCHA_PRELOAD)", "ours_models_loaded"),
        ):
            row = startup.get(key)
            if row:
                lines.append(
                    f"| {label} | {row['setup_s']:.2f} | {row['rss_mib']:.0f} "
                    f"| {row['pss_mib']:.0f} "
                    f"| {'yes' if row['tensorflow_imported'] else 'no'} |"
                )
    training = results.get("training", {})
    if "seed" in training:
        base = training["seed"].get("images_per_second")
        lines += [
            "",
            f"| GAN training step (batch {training['batch_size']}) | images/s | "
            "x seed |",
            "|---|---:|---:|",
        ]
        for label, key in (
            ("Seed (TF DCGAN tutorial step)", "seed"),
            ("Seed, XLA (jit_compile=True)", "seed_xla"),
            ("Ours (GanTrainer)", "ours"),
            ("Ours, XLA (jit_compile=True)", "ours_xla"),
            ("Ours, bfloat16 compute (mixed precision)", "ours_bf16"),
        ):
            row = training.get(key, {})
            if "images_per_second" in row:
                ips = row["images_per_second"]
                lines.append(
                    f"| {label} | {ips:.0f} | {fmt(ratio(ips, base), '.2f', 'x')} |"
                )
            elif "failed" in row:
                lines.append(f"| {label} | failed: {row['failed'][:60]} | — |")
    return "\n".join(lines)


def environment(db: str) -> dict[str, Any]:
    import django

    info: dict[str, Any] = {
        "python": platform.python_version(),
        "django": django.get_version(),
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "database": db,
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    for package in ("tensorflow", "keras", "django-simple-captcha", "gunicorn"):
        try:
            info[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            info[package] = None
    try:
        info["wrk"] = subprocess.run(
            ["wrk", "--version"], capture_output=True, text=True, check=False
        ).stdout.split("\n")[0]
    except OSError:
        info["wrk"] = None
    return info


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="Tiny counts: checks that every section runs.",
    )
    parser.add_argument(
        "--db",
        choices=["auto", "sqlite", "postgres"],
        default="auto",
        help="Database for both sides (auto: PostgreSQL if it "
        "answers on 127.0.0.1:5432, else SQLite).",
    )
    parser.add_argument(
        "--skip",
        default="",
        help=f"Comma-separated sections to skip: {', '.join(SECTIONS)}.",
    )
    parser.add_argument(
        "--model-dir",
        type=Path,
        default=None,
        help="Model set to use (default: ml_models/).",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=RESULTS / "bench.json",
        help="Where the JSON goes (benchmarks/results/bench.json).",
    )
    args = parser.parse_args(argv)
    unknown = set(filter(None, args.skip.split(","))) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown section(s): {', '.join(sorted(unknown))}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    counts = QUICK if args.quick else FULL
    skip = set(filter(None, args.skip.split(",")))
    RESULTS.mkdir(parents=True, exist_ok=True)
    if args.model_dir is not None:
        os.environ["BENCH_MODEL_DIR"] = str(args.model_dir.resolve())
    os.environ["DJANGO_SETTINGS_MODULE"] = "benchmarks.settings"
    os.environ.setdefault("BENCH_SIDE", "both")
    results: dict[str, Any] = {}
    with database(args.db) as db:
        import django

        django.setup()
        from django.core.management import call_command

        from gancaptcha_field.conf import conf
        from gancaptcha_field.supply import registry

        call_command("migrate", verbosity=0)
        model_dir = conf.MODEL_DIR
        models_ok = registry.inspect_model_dir(model_dir).ok
        if not models_ok:
            log(f"models in {model_dir} are not usable: sections needing them skip")
        results["environment"] = environment(db)
        results["environment"]["quick"] = args.quick
        results["environment"]["model_dir"] = str(model_dir)
        seed_dir = model_dir if models_ok and "seed" not in skip else None
        if "seed" not in skip and not models_ok:
            results["seed"] = {"skipped": "models missing"}
        if "inproc" not in skip:
            # The seed runs interleaved with the others (run_inproc).
            inproc = run_inproc(counts, models_ok, seed_dir)
            if "seed" in inproc:
                results["seed"] = inproc.pop("seed")
            results["inproc"] = inproc
        elif seed_dir is not None:
            log("seed pipeline")
            results["seed"] = bench_seed(seed_dir, counts)
        if "http" not in skip:
            results["http"] = run_http(counts, models_ok)
        if "startup" not in skip:
            log("start-up")
            results["startup"] = run_startup(counts, models_ok)
        if "training" not in skip:
            results["training"] = run_training(counts)
        if "issuing" not in skip and models_ok:
            from benchmarks import issuing_cost

            log("issuing cost per page view")
            results["issuing"] = issuing_cost.run(20 if args.quick else 200)
        if "sustained" not in skip and models_ok:
            from benchmarks import sustained

            if shutil.which("wrk") is None:
                results["sustained"] = {"skipped": "wrk not installed"}
            else:
                log("sustained load")
                results["sustained"] = sustained.run(
                    sustained.parse_args(["--quick"] if args.quick else [])
                )
        if "onnx" not in skip and models_ok:
            from benchmarks import onnx_serving

            log("ONNX Runtime against Keras")
            results["onnx"] = onnx_serving.run(model_dir, 5 if args.quick else 50)
    results["targets"] = targets(results)
    report = table(results)
    if "issuing" in results:
        from benchmarks import issuing_cost

        report += "\n\n" + issuing_cost.report(results["issuing"])
    if "table" in results.get("sustained", {}) or "peer" in results.get(
        "sustained", {}
    ):
        from benchmarks import sustained

        report += "\n\n" + sustained.table(results["sustained"])
    if "onnx" in results:
        from benchmarks import onnx_serving

        report += "\n\n" + onnx_serving.report(results["onnx"])
    print(report)
    print()
    for name, met in results["targets"]["met"].items():
        print(f"target {name}: {'met' if met else 'NOT met'}")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkstemp(dir=args.output.parent, suffix=".tmp")[1])
    tmp.write_text(json.dumps({**results, "table": report}, indent=2) + "\n")
    os.replace(tmp, args.output)
    print(f"\nWrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
