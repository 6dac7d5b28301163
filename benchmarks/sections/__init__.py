"""The sections of ``make bench``, one module each, run by benchmarks/bench.py.

A section module has ``run(run: Run) -> dict`` (its figures, kept in bench.json
under its name) and ``report(results) -> str`` (its table; "" for none). The
report is given every section's results, because a row may be a ratio against
another section's baseline (the in-process table's "x seed" column). A section
may also have ``targets(results) -> dict[str, bool]``: the goals it checks.
Every figure is measured in this one process and run, so the ratios mean
something.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.bootstrap import log


@dataclass
class Run:
    """What every section is given: the run's size, the models, what came before."""

    quick: bool
    skip: set[str]
    model_dir: Path
    models_ok: bool
    results: dict[str, Any] = field(default_factory=dict)

    def pick(self, full: Any, quick: Any) -> Any:
        """``full`` in a real run, ``quick`` under --quick (checks that it runs)."""
        return quick if self.quick else full


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


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a and b else None


def fmt(value: float | None, spec: str = ".1f", suffix: str = "") -> str:
    return "—" if value is None else f"{value:{spec}}{suffix}"


def cells(*values: str) -> str:
    """One row of a Markdown table."""
    return "| " + " | ".join(values) + " |"


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
