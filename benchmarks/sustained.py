"""Sustained load: a minute of visitors while challenges are drawn on the same machine.

    make bench   # once: installs requirements-bench.txt (gunicorn, the peer) and wrk
    .venv/bin/python -m benchmarks.sustained [--seconds 60] [--clients 4]
        [--start-pool 200] [--producer-challenges 600] [--full-pool N]
        [--demo-only] [--quick]

Also the "sustained" section of ``make bench``. Each row is its own gunicorn
(2 workers) on loopback, loaded for --seconds by wrk with pair.lua (a closed
loop of --clients connections: GET the signup page, then the CAPTCHA image it
names), one row after the other, all in one run on one machine:

  peer                django-simple-captcha 0.7.0's page (benchmarks/settings.py),
                      a minute first and a minute last, merged into one row
  demo, full pool     the demo site as shipped (benchmarks/demo_settings.py: its
                      settings, rate limits off, a new SQLite file) after
                      `captcha_fill_pool` to the default GANCAPTCHA_POOL["size"]
                      (--full-pool), the state `make run` starts it in
  demo, cold          the same on a new SQLite file: the load starts as soon
                      as it answers, with the pool empty; its workers fill the
                      pool from their first request
  pool-only+producer  pool-only workers (no TensorFlow) and one producer
                      (`captcha_fill_pool --watch`) on the same machine; the
                      pool starts at --start-pool
  ... inline image    the same, with GANCAPTCHA_INLINE_IMAGE: the page alone
                      carries the PNG (a page without it counts as an error)

The figure is challenges served without errors per second: a pair (page and
image, or the inline page) that ends in 200 with a CAPTCHA in it. A page that
says "try again shortly" has no image, so it counts as an error, not a
challenge. Each row also gives p50/p99 of a pair, errors, the pool's size
before and after, the ratio to the peer, and the workers' CPU milliseconds per
challenge (their user + system time during the row over its pairs: the figure
a busy shared machine disturbs least). The demo's rows also count the
challenges drawn on the spot (the warnings in the workers' log; the rest came
from the pool) and sample the pool's depth every 2 s. A second table gives
each row's larger worker's RSS and PSS after its minute, against the peer's.

Then the producer alone, in this process, on the shipped models: challenges/s
of one ``pool.fill`` and generator passes per challenge, the old path (plain
noise, no margin: how challenges were drawn before the latent bank) against
the new (benchmarks/supply.py's ``produce``), and the new with the opt-in
hardening (GANCAPTCHA_HARDEN), then with hardening and the trap
(GANCAPTCHA_TRAP), in interleaved rounds; then ``manage.py captcha_fill_pool``
in its own process on the defaults, at the rate it prints. ``--producer-only``
runs just that (no wrk, no gunicorn); ``--demo-only`` only the peer and the
demo's rows.

Rate limits are off. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks.bootstrap import RESULTS, ROOT, SETTINGS, django_here, log, sqlite_file
from benchmarks.servers import (
    children_of,
    cpu_seconds,
    gunicorn,
    memory_of,
    merge_runs,
    stop_process,
    wrk,
)

POOL_TABLE = "gancaptcha_field_pooledchallenge"


def pooled(db: Path) -> int:
    """Rows in a SQLite pool (read from outside the servers)."""
    with sqlite3.connect(db, timeout=30) as connection:
        return int(
            connection.execute(f"SELECT COUNT(*) FROM {POOL_TABLE}").fetchone()[0]
        )


def manage(settings: str, env: dict[str, str], *args: str) -> None:
    """Run a manage.py command to its end under ``settings`` and ``env``."""
    subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": settings, **env},
        check=True,
        capture_output=True,
    )


def migrate(settings: str, env: dict[str, str]) -> None:
    manage(settings, env, "migrate", "--noinput", "-v", "0")


@contextmanager
def producer(env: dict[str, str], size: int) -> Iterator[subprocess.Popen[bytes]]:
    """`captcha_fill_pool --watch`: one producer process beside the workers."""
    logfile = open(RESULTS / f"producer-{os.getpid()}.log", "wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "captcha_fill_pool",
            "--watch",
            "--interval",
            "0.2",
            "--size",
            str(size),
        ],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": SETTINGS, **env},
        stdout=logfile,
        stderr=subprocess.STDOUT,
    )
    try:
        yield proc
    finally:
        stop_process(proc, timeout=30.0)
        logfile.close()
    Path(logfile.name).unlink()


ROW_KEYS = (
    "pairs",
    "seconds",
    "challenges_per_second",
    "p50_ms",
    "p99_ms",
    "errors",
    "non_2xx",
    "socket_errors",
    "worker_cpu_s",
)

# The issue's memory target for a demo worker with its models loaded, after
# its load (RSS, MiB).
WORKER_RSS_TARGET_MIB = 150


def load(
    base: str,
    master: int,
    page: str,
    seconds: float,
    clients: int,
    mode: str | None = None,
) -> dict[str, Any]:
    """wrk's result, with the workers' CPU seconds during it and their memory
    after it (the gunicorn master's children)."""
    workers = children_of(master)
    before = cpu_seconds(workers)
    result = wrk(base, page, seconds, clients, mode=mode)
    result["worker_cpu_s"] = cpu_seconds(workers) - before
    result["workers"] = [memory_of(pid) for pid in workers]
    return result


def row(
    result: dict[str, Any], before: int | None, after: int | None
) -> dict[str, Any]:
    out = {key: result[key] for key in ROW_KEYS}
    out["pool_before"] = before
    out["pool_after"] = after
    out["workers"] = result["workers"]
    return out


def run_peer(seconds: float, clients: int) -> dict[str, Any]:
    """One minute of the peer: wrk's result with every latency (for merging)."""
    with sqlite_file("sustained-peer") as db:
        env = {"BENCH_DB": "sqlite", "BENCH_SQLITE": str(db), "BENCH_SIDE": "peer"}
        migrate(SETTINGS, env)
        with gunicorn(env) as (base, master, _):
            wrk(base, "/peer/signup/", min(5.0, seconds), clients)  # warm-up
            log(f"sustained: peer, {seconds:.0f}s")
            return load(base, master, "/peer/signup/", seconds, clients)


def peer_row(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The peer's minutes before and after ours as one row (rates from sums,
    exact percentiles over every pair), so that a drift of the machine's
    speed during the run is shared instead of falling on one side."""
    merged = merge_runs(runs)
    merged["worker_cpu_s"] = sum(run["worker_cpu_s"] for run in runs)
    out = {key: merged[key] for key in ROW_KEYS}
    out["pool_before"] = out["pool_after"] = None
    out["runs"] = [round(run["challenges_per_second"], 1) for run in runs]
    out["workers"] = runs[0]["workers"]
    return out


# What a web worker logs when the pool had nothing for a visitor
# (supply/source.py); the demo's workers print warnings to their log.
DRAWN_ON_THE_SPOT = "drawing a challenge on the spot"


def drawn_on_the_spot(base: str) -> int:
    """Challenges the gunicorn at ``base`` drew on the spot so far (its log)."""
    logfile = RESULTS / f"gunicorn-{base.rsplit(':', 1)[1]}.log"
    return logfile.read_text(errors="replace").count(DRAWN_ON_THE_SPOT)


@contextmanager
def depth_samples(db: Path, every: float = 2.0) -> Iterator[list[tuple[float, int]]]:
    """(seconds, rows) of the pool every ``every`` s while the block runs."""
    samples: list[tuple[float, int]] = []
    stop = threading.Event()
    start = time.monotonic()

    def sample() -> None:
        while not stop.wait(every):
            samples.append((round(time.monotonic() - start, 1), pooled(db)))

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield samples
    finally:
        stop.set()
        thread.join()


def demo_row(
    db: Path, base: str, master: int, name: str, seconds: float, clients: int
) -> dict[str, Any]:
    """One minute of the demo: the row, with where its challenges came from."""
    before = pooled(db)
    drawn_before = drawn_on_the_spot(base)
    log(f"sustained: demo, {name} (pool {before}), {seconds:.0f}s")
    with depth_samples(db) as samples:
        result = load(base, master, "/signup/", seconds, clients)
    out = row(result, before, pooled(db))
    out["drawn_on_the_spot"] = drawn_on_the_spot(base) - drawn_before
    out["from_pool"] = max(0, out["pairs"] - out["drawn_on_the_spot"])
    out["pool_depth"] = samples
    return out


def run_demo(seconds: float, clients: int, full_pool: int) -> dict[str, Any]:
    """The demo as shipped: from a full pool (``captcha_fill_pool`` first, as
    `make run` does), then cold (a new database, the pool empty)."""
    out: dict[str, Any] = {}
    server = {
        "app": "demo_site.wsgi:application",
        "settings": "benchmarks.demo_settings",
        "ready_path": "/",
    }
    with sqlite_file("sustained-demo-full") as db:
        env = {"BENCH_DEMO_DB": str(db)}
        migrate("benchmarks.demo_settings", env)
        log(f"sustained: demo: captcha_fill_pool --size {full_pool}")
        started = time.monotonic()
        manage(
            "benchmarks.demo_settings",
            env,
            "captcha_fill_pool",
            "--size",
            str(full_pool),
        )
        out["fill_s"] = time.monotonic() - started
        out["fill_size"] = full_pool
        out["bytes_per_challenge"] = pooled_bytes(db) / max(1, pooled(db))
        out["db_bytes"] = db.stat().st_size
        with gunicorn(env, **server) as (base, master, ready_s):
            out["gunicorn_ready_s"] = ready_s
            out["full"] = demo_row(db, base, master, "full", seconds, clients)
    with sqlite_file("sustained-demo") as db:
        env = {"BENCH_DEMO_DB": str(db)}
        migrate("benchmarks.demo_settings", env)
        with gunicorn(env, **server) as (base, master, _):
            out["cold"] = demo_row(db, base, master, "cold", seconds, clients)
    return out


def pooled_bytes(db: Path) -> int:
    """The bytes of a SQLite pool's rows (answer and both PNGs)."""
    with sqlite3.connect(db, timeout=30) as connection:
        total = connection.execute(
            "SELECT SUM(LENGTH(answer) + LENGTH(png) + LENGTH(png_2x)) "
            f"FROM {POOL_TABLE}"
        ).fetchone()[0]
    return int(total or 0)


def run_pool_only(
    seconds: float, clients: int, start_pool: int, pool_size: int, inline: bool
) -> dict[str, Any]:
    """Pool-only workers and one producer process, the pool starting small."""
    with sqlite_file("sustained-poolonly") as db:
        env = {
            "BENCH_DB": "sqlite",
            "BENCH_SQLITE": str(db),
            "BENCH_SIDE": "ours",
            "BENCH_POOL_SIZE": str(pool_size),
        }
        migrate(SETTINGS, env)
        manage(SETTINGS, env, "captcha_fill_pool", "--size", str(start_pool))
        web_env = {
            **env,
            "BENCH_POOL_ONLY": "1",
            "BENCH_INLINE": "1" if inline else "0",
        }
        with gunicorn(web_env) as (base, master, _):
            before = pooled(db)
            with producer(env, pool_size):
                name = "inline image" if inline else "pool-only+producer"
                log(f"sustained: {name} (pool {before}), {seconds:.0f}s")
                result = load(
                    base,
                    master,
                    "/ours/signup/",
                    seconds,
                    clients,
                    mode="inline" if inline else "pair",
                )
            return row(result, before, pooled(db))


# The producer's cases: (supply.py path, extra settings), each layout set
# explicitly, whatever the defaults.
_PLAIN = {"GANCAPTCHA_HARDEN": False, "GANCAPTCHA_TRAP": False}
PRODUCER_CASES = {
    "old": ("old", _PLAIN),
    "new": ("new", _PLAIN),
    "new_hardened": ("new", {"GANCAPTCHA_HARDEN": True, "GANCAPTCHA_TRAP": False}),
    # Hardening and the trap (one more reader pass a challenge).
    "new_hardened_trap": ("new", {"GANCAPTCHA_HARDEN": True, "GANCAPTCHA_TRAP": True}),
}


def run_producer(challenges: int, rounds: int) -> dict[str, Any]:
    """One producer's challenges/s and passes per challenge, old path and new.

    The cases run in interleaved rounds, the order rotating. In this process:
    Django must be set up on benchmarks.settings, migrated.
    """
    from django.test import override_settings

    from benchmarks import supply

    names = list(PRODUCER_CASES)
    for path, extra in PRODUCER_CASES.values():
        with override_settings(**extra):
            supply.warm(path)
    totals = {name: [0, 0.0, 0] for name in names}
    for number in range(rounds):
        turn = number % len(names)
        for name in names[turn:] + names[:turn]:
            path, extra = PRODUCER_CASES[name]
            with override_settings(**extra):
                made = supply.produce(path, max(1, challenges // rounds), None)
            totals[name][0] += made["challenges"]
            totals[name][1] += made["seconds"]
            totals[name][2] += made["generator_passes"]
    out: dict[str, Any] = {}
    for name, (count, seconds, passes) in totals.items():
        out[name] = {
            "challenges": count,
            "challenges_per_second": count / seconds,
            "generator_passes_per_challenge": passes / count,
        }
    out["speedup"] = (
        out["new"]["challenges_per_second"] / out["old"]["challenges_per_second"]
    )
    return out


def run_fill_command(challenges: int) -> dict[str, Any]:
    """`manage.py captcha_fill_pool --size N` on a new SQLite file, as an
    operator runs it (its own process, the defaults): the rate it prints."""
    command = [sys.executable, "manage.py", "captcha_fill_pool"]
    with sqlite_file("fill-command") as db:
        env = {"BENCH_DB": "sqlite", "BENCH_SQLITE": str(db), "BENCH_SIDE": "ours"}
        migrate(SETTINGS, env)
        done = subprocess.run(
            [*command, "--size", str(challenges)],
            cwd=ROOT,
            env={**os.environ, "DJANGO_SETTINGS_MODULE": SETTINGS, **env},
            check=True,
            capture_output=True,
            text=True,
        )
    found = re.search(r"drew (\d+) new in [\d.]+ s \(([\d.]+)/s\)", done.stdout)
    if found is None:
        raise RuntimeError(f"captcha_fill_pool printed no rate:\n{done.stdout}")
    return {
        "challenges": int(found.group(1)),
        "challenges_per_second": float(found.group(2)),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    from gancaptcha_field.conf import Settings

    pool_size = Settings.POOL.default["size"]  # the defaults a site gets
    results: dict[str, Any] = {
        "seconds": args.seconds,
        "clients": args.clients,
        "workers": 2,
        "default_pool_size": pool_size,
        "start_pool": args.start_pool,
    }
    if args.producer_only:
        results["producer"] = run_producer(args.producer_challenges, args.rounds)
        results["producer"]["command"] = run_fill_command(args.producer_challenges)
        return results
    full_pool = args.full_pool or pool_size
    peer_runs = [run_peer(args.seconds, args.clients)]
    results["demo"] = run_demo(args.seconds, args.clients, full_pool)
    if args.demo_only:
        peer_runs.append(run_peer(args.seconds, args.clients))
        results["peer"] = peer_row(peer_runs)
        return results
    results["pool_only_producer"] = run_pool_only(
        args.seconds, args.clients, args.start_pool, pool_size, inline=False
    )
    results["inline"] = run_pool_only(
        args.seconds, args.clients, args.start_pool, pool_size, inline=True
    )
    peer_runs.append(run_peer(args.seconds, args.clients))  # after ours, too
    results["peer"] = peer_row(peer_runs)
    results["producer"] = run_producer(args.producer_challenges, args.rounds)
    results["producer"]["command"] = run_fill_command(args.producer_challenges)
    return results


def targets(results: dict[str, Any]) -> dict[str, bool]:
    """The sustained targets of the supply issue, against this run's peer."""
    if "producer" not in results:  # --demo-only
        return demo_targets(results)
    producer = results["producer"]
    old = producer["old"]["challenges_per_second"]
    made = {
        "producer_5x_old_path": producer["speedup"] >= 5,
        "producer_100_per_s": producer["new"]["challenges_per_second"] >= 100,
        "hardened_producer_at_least_old": producer["new_hardened"][
            "challenges_per_second"
        ]
        >= old,
        "hardened_trap_producer_at_least_old": producer["new_hardened_trap"][
            "challenges_per_second"
        ]
        >= old,
        # Issue 18: hardening and the trap make what the plain layout makes.
        "hardened_trap_producer_at_least_plain": producer["new_hardened_trap"][
            "challenges_per_second"
        ]
        >= producer["new"]["challenges_per_second"],
    }
    if "peer" not in results:  # --producer-only
        return made
    peer = results["peer"]

    def share(r: dict[str, Any]) -> float:
        return float(r["challenges_per_second"] / peer["challenges_per_second"])

    def no_worse(r: dict[str, Any]) -> bool:
        return bool(r["p99_ms"] and r["p99_ms"] <= peer["p99_ms"])

    return {**demo_targets(results), **made}


def demo_targets(results: dict[str, Any]) -> dict[str, bool]:
    """The serving issue's targets: the demo as shipped against the peer."""
    peer = results["peer"]

    def share(r: dict[str, Any]) -> float:
        return float(r["challenges_per_second"] / peer["challenges_per_second"])

    def no_worse(r: dict[str, Any]) -> bool:
        return bool(r["p99_ms"] and r["p99_ms"] <= peer["p99_ms"])

    # The rate and the p99 apart: a docs line can then say which was met.
    rows = {
        "demo_full": results["demo"]["full"],
        "demo_cold": results["demo"]["cold"],
    }
    if "pool_only_producer" in results:
        rows["producer"] = results["pool_only_producer"]
    demo_rss = max_memory(results["demo"]["full"], "rss_mib")
    return {
        **{
            f"sustained_{name}_1x_peer": share(rows[name]) >= 1
            for name in ("demo_full", "demo_cold")
        },
        **{f"sustained_{name}_half_peer": share(r) >= 0.5 for name, r in rows.items()},
        **{f"sustained_{name}_p99_no_worse": no_worse(r) for name, r in rows.items()},
        "demo_worker_rss_at_most_150_mib": demo_rss is not None
        and demo_rss <= WORKER_RSS_TARGET_MIB,
    }


def max_memory(r: dict[str, Any], key: str) -> float | None:
    """The larger worker's figure (RSS or PSS, MiB) after a row's load."""
    values = [w[key] for w in r.get("workers", []) if key in w]
    return max(values) if values else None


def cpu_ms(r: dict[str, Any]) -> float | None:
    """The workers' CPU milliseconds per challenge served in a row."""
    if not r.get("pairs") or "worker_cpu_s" not in r:
        return None
    return float(1000 * r["worker_cpu_s"] / r["pairs"])


def table(results: dict[str, Any]) -> str:
    if "peer" not in results:  # --producer-only
        return producer_table(results["producer"])
    peer = results["peer"]
    demo = results["demo"]
    rows = [
        ("django-simple-captcha 0.7.0 (loaded before ours and after)", peer),
        (
            f"demo as shipped, from a full pool ({demo['fill_size']}, "
            "captcha_fill_pool first)",
            demo["full"],
        ),
        ("demo as shipped, cold (pool empty at start)", demo["cold"]),
    ]
    if "pool_only_producer" in results:
        rows += [
            ("pool-only workers + producer", results["pool_only_producer"]),
            ("pool-only + producer, inline image", results["inline"]),
        ]
    lines = [
        f"Sustained {results['seconds']:.0f} s, {results['clients']} clients, "
        "gunicorn 2 workers, same machine (challenges served without errors)",
        "",
        "| server | challenges/s | x peer | p50 ms | p99 ms | errors "
        "| workers' CPU ms per challenge | pool before → after "
        "| from pool / drawn on the spot |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in rows:
        errors = r["errors"] + r["non_2xx"] + r["socket_errors"]
        pool_cell = (
            ""
            if r["pool_before"] is None
            else f"{r['pool_before']} → {r['pool_after']}"
        )
        source_cell = (
            f"{r['from_pool']} / {r['drawn_on_the_spot']}"
            if "drawn_on_the_spot" in r
            else ""
        )
        lines.append(
            f"| {name} | {r['challenges_per_second']:.1f} | "
            f"{r['challenges_per_second'] / peer['challenges_per_second']:.2f} | "
            f"{r['p50_ms']:.0f} | {r['p99_ms']:.0f} | {errors} | "
            f"{fmt(cpu_ms(r))} | {pool_cell} | {source_cell} |"
        )
    lines.append("")
    before, after = peer["runs"]
    lines.append(
        f"The peer served {before:.1f}/s in its run before ours and "
        f"{after:.1f}/s in its run after; its row merges both."
    )
    lines.append(
        f"`captcha_fill_pool --size {demo['fill_size']}` took {demo['fill_s']:.0f} s "
        f"(its own process, before the workers started); a pooled challenge "
        f"holds {demo['bytes_per_challenge'] / 1000:.1f} kB (answer and both "
        f"PNGs), the SQLite file {demo['db_bytes'] / 1e6:.0f} MB."
    )
    for name in ("full", "cold"):
        depth = ", ".join(f"{t:.0f} s: {n}" for t, n in demo[name]["pool_depth"])
        lines.append(f"Pool depth during the {name} row: {depth or '—'}.")
    tables = ["\n".join(lines), memory_table(rows, peer)]
    if "producer" in results:
        tables.append(producer_table(results["producer"]))
    return "\n\n".join(tables)


def memory_table(rows: list[tuple[str, dict[str, Any]]], peer: dict[str, Any]) -> str:
    """Each server's larger worker after its minute of load, against the peer's."""
    peer_rss = max_memory(peer, "rss_mib")
    lines = [
        "| worker after its load (the larger of 2) | RSS MiB | PSS MiB | RSS x peer |",
        "|---|---|---|---|",
    ]
    for name, r in rows:
        rss = max_memory(r, "rss_mib")
        lines.append(
            f"| {name} | {fmt(rss, '.0f')} | {fmt(max_memory(r, 'pss_mib'), '.0f')} "
            f"| {fmt(rss / peer_rss if rss and peer_rss else None, '.2f')} |"
        )
    lines.append(
        f"\nTarget: a demo worker at most {WORKER_RSS_TARGET_MIB} MiB resident "
        "with its models loaded, after serving load (the full-pool row)."
    )
    return "\n".join(lines)


def fmt(value: float | None, spec: str = ".1f") -> str:
    return "—" if value is None else f"{value:{spec}}"


def producer_table(producer: dict[str, Any]) -> str:
    lines = [
        "| producer (one pool.fill, in process) | challenges/s "
        "| generator passes per challenge |",
        "|---|---|---|",
    ]
    for path, label in (
        ("old", "old path (plain noise)"),
        ("new", "new path (latent bank), plain layout"),
        ("new_hardened", "new path, GANCAPTCHA_HARDEN on, trap off"),
        ("new_hardened_trap", "new path, GANCAPTCHA_HARDEN and GANCAPTCHA_TRAP on"),
    ):
        p = producer[path]
        lines.append(
            f"| {label} | {p['challenges_per_second']:.1f} | "
            f"{p['generator_passes_per_challenge']:.2f} |"
        )
    command = producer.get("command")
    if command:
        old = producer["old"]["challenges_per_second"]
        lines.append(
            f"| `manage.py captcha_fill_pool --size {command['challenges']}` (its "
            f"own process, the defaults; x old path: "
            f"{command['challenges_per_second'] / old:.1f}) | "
            f"{command['challenges_per_second']:.1f} | |"
        )
    lines.append(f"\nProducer speed-up, new / old: {producer['speedup']:.1f}x")
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--seconds", type=float, default=60.0, help="Load per row (60)."
    )
    for flag, default, text in (
        ("--clients", 4, "Connections (4)."),
        ("--start-pool", 200, "Pool at the start (200)."),
        ("--producer-challenges", 600, "Challenges per producer path (600)."),
        ("--rounds", 3, "Producer rounds (3)."),
    ):
        parser.add_argument(flag, type=int, default=default, help=text)
    parser.add_argument(
        "--full-pool",
        type=int,
        default=0,
        help="The full-pool row's pool (0: the default GANCAPTCHA_POOL size).",
    )
    for flag, text in (
        ("--quick", "A few seconds per row: checks it runs."),
        ("--demo-only", "Only the peer and the demo's rows (no pool-only rows)."),
        ("--producer-only", "Only the producer comparison (no wrk, no gunicorn)."),
    ):
        parser.add_argument(flag, action="store_true", help=text)
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds, args.start_pool = 3.0, 20
        args.full_pool = args.full_pool or 100
        args.producer_challenges, args.rounds = 30, 1
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if shutil.which("wrk") is None and not args.producer_only:
        log("needs wrk (apt-get install -y wrk) and requirements-bench.txt")
        return 2
    RESULTS.mkdir(parents=True, exist_ok=True)
    with django_here(side="ours", name="sustained-producer"):
        results = run(args)
    print(table(results))
    print()
    for name, met in targets(results).items():
        print(f"target {name}: {'met' if met else 'NOT met'}")
    # A producer-only run keeps the last full run's file.
    out = RESULTS / (
        "sustained_producer.json" if args.producer_only else "sustained.json"
    )
    out.write_text(json.dumps(results, indent=2))
    log(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
