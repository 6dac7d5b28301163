"""inproc: one challenge made and its image fetched, through Django's test client.

django-simple-captcha, ours from the pool (database and Redis stores), and the
seed pipeline (benchmarks/sections/seed.py) in interleaved rounds; then ours
drawn on the spot. Every row is also a ratio to the seed and to the peer.
"""

from __future__ import annotations

import io
import os
import statistics
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.bootstrap import log
from benchmarks.sections import (
    Run,
    cells,
    fill_pool,
    fmt,
    measure,
    ratio,
    summarise,
)
from benchmarks.servers import REDIS_URL, clear_redis, redis_answers


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


def pool_row_bytes() -> float | None:
    from gancaptcha_field.models import PooledChallenge

    rows = list(PooledChallenge.objects.values_list("png", "png_2x")[:100])
    if not rows:
        return None
    return statistics.mean(len(bytes(a)) + len(bytes(b)) for a, b in rows)


def run(ctx: Run) -> dict[str, Any]:
    """The seed (unless skipped), the peer and ours from the pool, interleaved.

    The seed's figures are left under "seed" for the seed section to take.
    """
    from gancaptcha_field.supply import pool

    iterations, warmup, rounds = ctx.pick(1000, 20), ctx.pick(20, 2), ctx.pick(5, 1)
    models_ok = ctx.models_ok
    out: dict[str, Any] = {}
    cases = [Case("peer", peer_challenge(), iterations, warmup)]
    if models_ok and "seed" not in ctx.skip:
        seed = seed_challenge(ctx.model_dir)
        cases.insert(0, Case("seed", seed, ctx.pick(30, 3), warmup // 10 + 1))
    prefix = f"gc_bench_{os.getpid()}"
    with_redis = models_ok and redis_answers()
    if models_ok:
        needed = iterations + warmup
        # Both pool runs take from the one pool, filled for both beforehand
        # (each may also hold a batch it took ahead: GANCAPTCHA_POOL["reserve"]).
        from gancaptcha_field.conf import conf

        sides = 2 if with_redis else 1
        out["pool_fill"] = fill_pool(sides * (needed + conf.POOL["reserve"]) + 10)
        out["pool_row_bytes"] = pool_row_bytes()
        cases.append(
            Case(
                "ours_pool",
                ours_challenge(),
                iterations,
                warmup,
                {"GANCAPTCHA_POOL": {"size": needed}, "GANCAPTCHA_SOURCE": "pool"},
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
                    iterations,
                    warmup,
                    {
                        "CACHES": caches_setting,
                        "GANCAPTCHA_STORE": "cache",
                        "GANCAPTCHA_POOL": {"size": needed},
                        "GANCAPTCHA_SOURCE": "pool",
                    },
                )
            )
        else:
            out["ours_pool_redis"] = {"skipped": "Redis does not answer"}
    else:
        out["ours_skipped"] = "models missing"
    names = ", ".join(case.name for case in cases)
    log(f"inproc: {names}, interleaved in {rounds} rounds")
    try:
        measured = measure_interleaved(cases, rounds)
    finally:
        if with_redis:
            from django.core.cache import caches

            caches.close_all()
            clear_redis(prefix)
    out.update(measured)
    if models_ok:
        pool.clear()
        log("inproc: ours, drawn on the spot (no pool)")
        from django.test import override_settings

        with override_settings(GANCAPTCHA_SOURCE="draw"):
            out["ours_on_the_spot"] = measure(ours_challenge(), iterations, warmup)
    return out


def report(results: dict[str, Any]) -> str:
    """The in-process table, a row per contender (the seed's too)."""
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
        mean = row["mean_ms"]
        lines.append(
            cells(
                label,
                fmt(mean, ".2f"),
                fmt(row["p99_ms"], ".2f"),
                fmt(row["per_second"], ".0f"),
                fmt(ratio(seed_ms, mean), ".0f", "x"),
                fmt(ratio(peer_ms, mean), ".1f", "x"),
            )
        )
    return "\n".join(lines)


def targets(results: dict[str, Any]) -> dict[str, bool]:
    """Issue 3's in-process goals, against this run's seed and peer."""
    ours_ms = results.get("inproc", {}).get("ours_pool", {}).get("mean_ms")
    seed_ms = results.get("seed", {}).get("mean_ms")
    peer_ms = results.get("inproc", {}).get("peer", {}).get("mean_ms")
    return {
        "inproc_100x_seed": (ratio(seed_ms, ours_ms) or 0) >= 100,
        "inproc_2x_peer": (ratio(peer_ms, ours_ms) or 0) >= 2,
    }
