"""onnx: the serving networks in ONNX Runtime against Keras, time per call and
a loading process's peak RSS (benchmarks/onnx_serving.py, which also runs
alone)."""

from __future__ import annotations

from typing import Any

from benchmarks import onnx_serving
from benchmarks.bootstrap import log
from benchmarks.sections import Run


def run(ctx: Run) -> dict[str, Any]:
    if not ctx.models_ok:
        return {"skipped": "models missing"}
    log("ONNX Runtime against Keras")
    return onnx_serving.run(ctx.model_dir, ctx.pick(50, 5), ctx.pick(100, 26))


def report(results: dict[str, Any]) -> str:
    return onnx_serving.report(results["onnx"])
