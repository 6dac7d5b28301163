"""seed: the seed pipeline as written, the baseline of the in-process table.

generator.predict() on 4 noise vectors, reader.predict(), a matplotlib figure
saved to PNG (benchmarks/sections/inproc.py's ``seed_challenge``). It runs
interleaved with inproc's rounds unless that section is skipped; then alone.
"""

from __future__ import annotations

from typing import Any

from benchmarks.bootstrap import log
from benchmarks.sections import Run, inproc, measure


def run(ctx: Run) -> dict[str, Any]:
    if not ctx.models_ok:
        return {"skipped": "models missing"}
    interleaved = ctx.results.get("inproc", {}).pop("seed", None)
    if interleaved is not None:
        return dict(interleaved)
    log("seed pipeline")
    one = inproc.seed_challenge(ctx.model_dir)
    return measure(one, ctx.pick(30, 3), ctx.pick(2, 1))


def report(results: dict[str, Any]) -> str:
    """The in-process table (the seed's row) when inproc did not print it."""
    return "" if "inproc" in results else inproc.report(results)
