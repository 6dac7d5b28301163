"""ONNX Runtime against Keras on the serving networks: time per call and memory.

    python -m benchmarks.onnx_serving [--repeats N] [--quick] [--model-dir DIR]

Time: in one process, the Keras path (the shipped .keras files, each call in a
traced ``tf.function`` with training=False, as the registry ran them before
issue 20) and the ONNX path (``supply.models.ModelSet``, what serves now) read
the same inputs: the generator a batch of 64 latents, the reader and the
verifier batches of 1 and 64 digits. Calls alternate between the two paths, so
a change in the machine's load falls on both; each figure is the median of
``--repeats`` calls, wall clock and process CPU (every thread), printed with
its ratio to the Keras baseline (below 1: ONNX is cheaper).

Memory: two fresh subprocesses load the three networks and draw one batch of
64 through the generator, reader and verifier; one with ONNX Runtime only
(TensorFlow never imported), one with Keras. Their peak RSS (VmHWM) is
printed, with a process that imports numpy and nothing else for scale.

Needs the [train] extra (TensorFlow) for the Keras side. No assertion here:
the tests check that both give the same outputs, not how fast.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SEED = 20261207

# Loads the networks one way, draws one batch of 64, reports its peak RSS.
_RSS_WORKER = r"""
import json
import sys
from pathlib import Path

import numpy as np


def peak_mib():
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over fork and exec, so a
    # child of a big process would report its parent's peak.
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024


kind, model_dir = sys.argv[1], Path(sys.argv[2])
z = np.random.default_rng(1).standard_normal((64, 100)).astype(np.float32)
if kind == "onnx":
    from gancaptcha_field.supply.models import ModelSet

    models = ModelSet.load(model_dir)
    images, unit, reader = models.draw_and_read(z)
    verifier = models.verify(unit)
elif kind == "keras":
    import keras

    from gancaptcha_field import constants

    generator, reader, verifier = (
        keras.models.load_model(model_dir / name, compile=False)
        for name in constants.MODEL_FILES
    )
    images = generator(z, training=False)
    unit = (images + 1.0) / 2.0
    reader(unit, training=False)
    verifier(unit, training=False)
print(json.dumps({
    "peak_mib": peak_mib(),
    "tensorflow": "tensorflow" in sys.modules,
    "onnxruntime": "onnxruntime" in sys.modules,
}))
"""


def peak_rss(kind: str, model_dir: Path) -> dict[str, Any]:
    """Peak RSS of a fresh process loading the networks the ``kind`` way."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run(
        [sys.executable, "-c", _RSS_WORKER, kind, str(model_dir)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    report: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return report


def _keras_calls(model_dir: Path) -> dict[str, Callable[[np.ndarray], Any]]:
    import keras
    import tensorflow as tf

    from gancaptcha_field import constants

    generator, reader, verifier = (
        keras.models.load_model(model_dir / name, compile=False)
        for name in constants.MODEL_FILES
    )
    size = constants.IMAGE_SIZE
    image_spec = [tf.TensorSpec([None, size, size, 1], tf.float32)]

    # As the registry traced them before the ONNX export.
    @tf.function(input_signature=[tf.TensorSpec([None, 100], tf.float32)])
    def generate(z: Any) -> Any:
        return generator(z, training=False)

    @tf.function(input_signature=image_spec)
    def read(unit: Any) -> Any:
        return reader(unit, training=False)

    @tf.function(input_signature=image_spec)
    def verify(unit: Any) -> Any:
        return verifier(unit, training=False)

    return {
        "generator": lambda x: np.asarray(generate(x)),
        "reader": lambda x: np.asarray(read(x)),
        "verifier": lambda x: np.asarray(verify(x)),
    }


def _onnx_calls(model_dir: Path) -> dict[str, Callable[[np.ndarray], Any]]:
    from gancaptcha_field.supply.models import ModelSet

    models = ModelSet.load(model_dir)
    return {
        "generator": models.generate,
        "reader": models.read,
        "verifier": models.verify,
    }


def _timed(call: Callable[[np.ndarray], Any], x: np.ndarray) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    call(x)
    return time.perf_counter() - wall, time.process_time() - cpu


def time_calls(model_dir: Path, repeats: int) -> list[dict[str, Any]]:
    """Median wall and CPU ms per call of each network, both paths, interleaved."""
    rng = np.random.default_rng(SEED)
    z = rng.standard_normal((64, 100)).astype(np.float32)
    paths = {"keras": _keras_calls(model_dir), "onnx": _onnx_calls(model_dir)}
    unit = (paths["keras"]["generator"](z) + 1.0) / 2.0
    cases = [
        ("generator", 64, z),
        ("reader", 1, unit[:1]),
        ("reader", 64, unit),
        ("verifier", 1, unit[:1]),
        ("verifier", 64, unit),
    ]
    rows = []
    for role, batch, x in cases:
        samples: dict[str, list[tuple[float, float]]] = {"keras": [], "onnx": []}
        for path in paths.values():  # warm-up: traces, buffers
            for _ in range(3):
                path[role](x)
        for _ in range(repeats):
            for name, path in paths.items():
                samples[name].append(_timed(path[role], x))
        row: dict[str, Any] = {"network": role, "batch": batch}
        for name, got in samples.items():
            row[f"{name}_wall_ms"] = 1000 * statistics.median(w for w, _ in got)
            row[f"{name}_cpu_ms"] = 1000 * statistics.median(c for _, c in got)
        row["wall_ratio"] = row["onnx_wall_ms"] / row["keras_wall_ms"]
        row["cpu_ratio"] = row["onnx_cpu_ms"] / row["keras_cpu_ms"]
        diff = np.abs(paths["onnx"][role](x) - paths["keras"][role](x)).max()
        row["max_abs_diff"] = float(diff)
        rows.append(row)
    return rows


# How close to a threshold (or the margin) a figure may sit and still be
# allowed to fall the other way between the two paths (the 1e-5).
BORDERLINE = 1e-5


def fixed_latents(model_dir: Path, per_label: int) -> np.ndarray:
    """A fixed batch as served: half drawn near the bank, half plain noise."""
    from gancaptcha_field import artifacts, constants
    from gancaptcha_field.supply import latents

    rng = np.random.default_rng(SEED)
    bank = latents.load_bank(model_dir, artifacts.read_metadata(model_dir))
    labels = np.repeat(np.arange(constants.NUM_CLASSES), per_label)
    plain = rng.standard_normal((len(labels), constants.LATENT_DIM))
    near = bank.sample(labels, rng) if bank is not None else plain
    return np.concatenate([near, plain]).astype(np.float32)


def decisions(model_dir: Path, per_label: int) -> dict[str, Any]:
    """The serving rule's decisions on one fixed-seed batch, Keras against ONNX
    (as a web server runs it, one thread, and with a thread per core): the same
    digits must pass with the same labels, except where a figure sits within
    BORDERLINE of a threshold or the margin (counted)."""
    from gancaptcha_field import constants, oracle
    from gancaptcha_field.supply.models import WEB_SERVER_THREADS, ModelSet

    # The serving defaults (what a site gets without settings).
    reader_t = constants.DEFAULT_READER_THRESHOLD
    verifier_t = constants.DEFAULT_VERIFIER_THRESHOLD
    margin = constants.DEFAULT_MARGIN
    z = fixed_latents(model_dir, per_label)
    keras_calls = _keras_calls(model_dir)
    unit = (keras_calls["generator"](z) + 1.0) / 2.0
    probs = {"keras": (keras_calls["reader"](unit), keras_calls["verifier"](unit))}
    for name, threads in (("onnx_web", WEB_SERVER_THREADS), ("onnx", 0)):
        models = ModelSet.load(model_dir, threads=threads)
        _, reader_probs, verifier_probs = models.infer(z, reader_t)
        probs[name] = (reader_probs, verifier_probs)

    def verdict(pair: tuple[np.ndarray, np.ndarray]) -> oracle.Verdict:
        return oracle.judge(*pair, reader_t, verifier_t, margin=margin)

    def near(pair: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        reader_probs, verifier_probs = pair
        rows = np.arange(len(reader_probs))
        labels = reader_probs.argmax(axis=1)
        return np.asarray(
            (np.abs(reader_probs[rows, labels] - reader_t) <= BORDERLINE)
            | (np.abs(verifier_probs[rows, labels] - verifier_t) <= BORDERLINE)
            | (np.abs(oracle.log_margin(reader_probs) - margin) <= BORDERLINE)
            | (np.abs(oracle.log_margin(verifier_probs) - margin) <= BORDERLINE)
        )

    before = verdict(probs["keras"])
    out: dict[str, Any] = {
        "digits": len(z),
        "seed": SEED,
        "keras_accepted": int(before.accepted.sum()),
    }
    for name in ("onnx_web", "onnx"):
        after = verdict(probs[name])
        differ = (before.accepted != after.accepted) | (
            before.accepted & (before.labels != after.labels)
        )
        borderline = near(probs["keras"]) | near(probs[name])
        out[name] = {
            "accepted": int(after.accepted.sum()),
            "differ": int(differ.sum()),
            "borderline": int(borderline.sum()),
            "differ_not_borderline": int((differ & ~borderline).sum()),
        }
    return out


def run(model_dir: Path, repeats: int, per_label: int = 26) -> dict[str, Any]:
    """Every measurement; what ``report`` prints and bench.json keeps."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    calls = time_calls(model_dir, repeats)
    same = decisions(model_dir, per_label)
    memory = {kind: peak_rss(kind, model_dir) for kind in ("onnx", "keras", "bare")}
    assert not memory["onnx"]["tensorflow"], "the ONNX process imported TensorFlow"
    memory["ratio"] = memory["onnx"]["peak_mib"] / memory["keras"]["peak_mib"]
    return {"repeats": repeats, "calls": calls, "memory": memory, "decisions": same}


def report(results: dict[str, Any]) -> str:
    """The timing table and the memory figures, as text."""
    lines = [
        f"ONNX Runtime against Keras, per call, median of {results['repeats']} "
        "(x: ONNX / Keras; Keras = 1.00)",
        f"{'network':<9} {'batch':>5} {'Keras ms':>9} {'ONNX ms':>8} "
        f"{'wall x':>7} {'Keras CPU':>10} {'ONNX CPU':>9} {'CPU x':>6} "
        f"{'max |diff|':>10}",
    ]
    for r in results["calls"]:
        lines.append(
            f"{r['network']:<9} {r['batch']:>5} {r['keras_wall_ms']:>9.2f} "
            f"{r['onnx_wall_ms']:>8.2f} {r['wall_ratio']:>7.2f} "
            f"{r['keras_cpu_ms']:>10.2f} {r['onnx_cpu_ms']:>9.2f} "
            f"{r['cpu_ratio']:>6.2f} {r['max_abs_diff']:>10.2g}"
        )
    memory = results["memory"]
    lines += ["", "Peak RSS of a process that loads the three networks and draws 64:"]
    for kind, label in (
        ("onnx", "ONNX Runtime (ModelSet)"),
        ("keras", "Keras / TensorFlow"),
        ("bare", "python + numpy alone"),
    ):
        lines.append(f"  {label:<24} {memory[kind]['peak_mib']:7.0f} MiB")
    lines.append(f"  ratio ONNX / Keras       {memory['ratio']:7.2f}")
    same = results.get("decisions")
    if same:
        lines += [
            "",
            f"The serving rule on {same['digits']} fixed-seed digits (seed "
            f"{same['seed']}): Keras passed {same['keras_accepted']}",
            f"{'path':<26} {'passed':>6} {'differ':>6} {'within 1e-5':>11} "
            f"{'differ, not within':>18}",
        ]
        for name, label in (
            ("onnx_web", "ONNX, web server (1 thread)"),
            ("onnx", "ONNX, a thread per core"),
        ):
            r = same[name]
            lines.append(
                f"{label:<26} {r['accepted']:>6} {r['differ']:>6} "
                f"{r['borderline']:>11} {r['differ_not_borderline']:>18}"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Measure, print, and write JSON when asked."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=50, help="Calls per figure.")
    parser.add_argument("--quick", action="store_true", help="5 calls per figure.")
    parser.add_argument("--json", type=Path, default=None, help="Also write JSON.")
    parser.add_argument(
        "--model-dir", type=Path, default=ROOT / "ml_models", help="Model set."
    )
    args = parser.parse_args(argv)
    results = run(args.model_dir, 5 if args.quick else args.repeats)
    print(report(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
