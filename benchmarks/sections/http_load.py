"""http: gunicorn, 2 workers per side, on loopback, loaded by wrk.

GET the signup page, then GET its CAPTCHA image: ours (pool-only workers,
database and Redis stores, and the inline image), the peer's equivalent page,
and the page with no CAPTCHA (the ceiling). Skips itself without wrk.
(Not named http.py: that would read as the standard library's package.)
"""

from __future__ import annotations

import os
import shutil
import statistics
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

from benchmarks.bootstrap import log
from benchmarks.sections import Run, cells, fill_pool, fmt, ratio
from benchmarks.servers import (
    children_of,
    clear_redis,
    gunicorn,
    memory_of,
    merge_runs,
    redis_answers,
    wrk,
)


@dataclass
class Side:
    """One page served by its own gunicorn in the HTTP section."""

    name: str
    page: str
    env: dict[str, str]
    page_only: bool = False
    takes_from_pool: bool = False
    mode: str | None = None  # pair.lua's mode; "inline" for the inline image


def run(ctx: Run) -> dict[str, Any]:
    """Every side's server up at once, timed in interleaved rounds.

    Each side gets ``seconds`` in all, in ``rounds`` slices taken
    in turn (the order rotating every round), so that a change in the
    machine's speed during the run falls on every side alike instead of on
    whichever ran at that moment.
    """
    if shutil.which("wrk") is None:
        return {"skipped": "wrk not installed (apt-get install -y wrk)"}
    from gancaptcha_field.supply import pool

    seconds, warmup = ctx.pick(15.0, 2.0), ctx.pick(3.0, 1.0)
    connections, rounds = ctx.pick(4, 2), ctx.pick(5, 1)
    models_ok = ctx.models_ok

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
                    fill_pool(int(max(peer_rate * 4, 200) * (warmup + 1)))
                log(f"http: {side.name}: warm-up {warmup:.0f}s")
                base = servers[side.name][0]
                warm[side.name] = wrk(
                    base,
                    side.page,
                    warmup,
                    connections,
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
                    needed += max(rate, peer_rate) * seconds * 1.3 + 200
            if needed:
                fill_pool(int(needed))
            runs: dict[str, list[dict[str, Any]]] = {side.name: [] for side in sides}
            slice_s = seconds / rounds
            for number in range(rounds):
                turn = number % len(sides)
                for side in sides[turn:] + sides[:turn]:
                    log(f"http: round {number + 1}/{rounds}: {side.name}")
                    runs[side.name].append(
                        wrk(
                            servers[side.name][0],
                            side.page,
                            slice_s,
                            connections,
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


def report(results: dict[str, Any]) -> str:
    """The HTTP table: every side against the peer."""
    http = results.get("http", {})
    lines: list[str] = []
    if "peer" in http:
        peer_rate = http["peer"]["challenges_per_second"]
        lines += [
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
            rate = row["challenges_per_second"]
            errors = row["errors"] + row["non_2xx"] + row["socket_errors"]
            lines.append(
                cells(
                    label,
                    f"{rate:.0f}",
                    f"{row['p50_ms']:.1f}",
                    f"{row['p99_ms']:.1f}",
                    str(errors),
                    fmt(statistics.mean(rss) if rss else None, ".0f"),
                    fmt(ratio(rate, peer_rate), ".1f", "x"),
                )
            )
    return "\n".join(lines)


def targets(results: dict[str, Any]) -> dict[str, bool]:
    """Issue 3's HTTP goals, against this run's peer."""
    http = results.get("http", {})
    peer = http.get("peer", {})
    ours = http.get("ours_pool", {})
    peer_rate = peer.get("challenges_per_second")
    inline = http.get("ours_pool_inline", {}).get("challenges_per_second")
    ours_p99, peer_p99 = ours.get("p99_ms"), peer.get("p99_ms")
    return {
        "http_2x_peer": (ratio(ours.get("challenges_per_second"), peer_rate) or 0) >= 2,
        "http_inline_2x_peer": (ratio(inline, peer_rate) or 0) >= 2,
        "http_p99_no_worse": bool(ours_p99 and peer_p99 and ours_p99 <= peer_p99),
    }
