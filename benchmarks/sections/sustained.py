"""sustained: a minute of load per row while challenges are drawn on the same
machine, and the producer's challenges/s, old path against new
(benchmarks/sustained.py, which also runs alone)."""

from __future__ import annotations

import shutil
from typing import Any

from benchmarks import sustained
from benchmarks.bootstrap import log
from benchmarks.sections import Run


def run(ctx: Run) -> dict[str, Any]:
    if not ctx.models_ok:
        return {"skipped": "models missing"}
    if shutil.which("wrk") is None:
        return {"skipped": "wrk not installed"}
    log("sustained load")
    return sustained.run(sustained.parse_args(ctx.pick([], ["--quick"])))


def report(results: dict[str, Any]) -> str:
    return sustained.table(results["sustained"])


def targets(results: dict[str, Any]) -> dict[str, bool]:
    found = results.get("sustained", {})
    return sustained.targets(found) if "peer" in found else {}
