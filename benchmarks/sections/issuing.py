"""issuing: CPU time and bytes stored per page view, ours (default, and from a
pool) against django-simple-captcha (benchmarks/issuing_cost.py)."""

from __future__ import annotations

from typing import Any

from benchmarks import issuing_cost
from benchmarks.bootstrap import log
from benchmarks.sections import Run


def run(ctx: Run) -> dict[str, Any]:
    if not ctx.models_ok:
        return {"skipped": "models missing"}
    log("issuing cost per page view")
    return issuing_cost.run(ctx.pick(200, 20))


def report(results: dict[str, Any]) -> str:
    return issuing_cost.report(results["issuing"])
