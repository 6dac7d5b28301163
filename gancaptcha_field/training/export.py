"""Internal. The export stage: the serving networks as ONNX, checked against Keras.

TensorFlow trains and ONNX Runtime serves. Each .keras file is traced with
training=False and converted by tf2onnx (opset ``constants.ONNX_OPSET``), then
both runtimes read one fixed batch: the largest absolute difference of each
network's output is recorded, and the export is refused when it exceeds
``TOLERANCE`` or when a digit would be served, or labelled, differently.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from gancaptcha_field import artifacts, constants, oracle
from gancaptcha_field.supply.models import ROLES, ModelSet

# Largest absolute difference allowed between Keras and ONNX Runtime, in tanh
# pixels and in probabilities (measured on the shipped set: about 6e-6).
TOLERANCE = 1e-4
PARITY_SEED = 505  # the fixed batch's noise; never a serving seed
PARITY_BATCH = 64

# Input and output names inside the ONNX graphs.
_NAMES = {
    "generator": ("z", "images"),
    "reader": ("digits", "probabilities"),
    "verifier": ("digits", "probabilities"),
}

Log = Callable[[str], object]


class ExportError(Exception):
    """The ONNX export failed or disagrees with Keras; nothing was installed."""


def export_model(model: keras.Model, role: str, path: Path) -> None:
    """Write ``model`` in inference mode (training=False) as an ONNX file."""
    import tf2onnx

    name_in, name_out = _NAMES[role]
    spec = (tf.TensorSpec((None, *model.inputs[0].shape[1:]), tf.float32, name_in),)

    @tf.function(input_signature=spec)  # type: ignore[untyped-decorator]
    def serve(x: Any) -> dict[str, Any]:
        return {name_out: model(x, training=False)}

    proto, _ = tf2onnx.convert.from_function(
        serve, input_signature=spec, opset=constants.ONNX_OPSET
    )
    proto.doc_string = f"gancaptcha_field {role}, exported from Keras"
    with artifacts.atomic_path(path) as tmp:
        tmp.write_bytes(proto.SerializeToString())


def parity(
    keras_models: Mapping[str, keras.Model],
    onnx_models: ModelSet,
    reader_threshold: float,
    verifier_threshold: float,
    margin: float = constants.DEFAULT_MARGIN,
    seed: int = PARITY_SEED,
    batch: int = PARITY_BATCH,
) -> dict[str, Any]:
    """Both runtimes on one fixed batch: each network's largest difference, and
    whether the served digits and their labels are the same."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((batch, constants.LATENT_DIM)).astype(np.float32)
    # Keras, exactly as serving ran it before: training=False, (x + 1) / 2.
    ref_images = np.asarray(keras_models["generator"](z, training=False))
    ref_unit = constants.generator_to_classifier_range(ref_images)
    ref_reader = np.asarray(keras_models["reader"](ref_unit, training=False))
    ref_verifier = np.asarray(keras_models["verifier"](ref_unit, training=False))
    images = onnx_models.generate(z)
    # Each classifier on the same input, so its own difference is measured.
    reader = onnx_models.read(ref_unit)
    verifier = onnx_models.verify(ref_unit)
    diffs = {
        "generator": float(np.abs(images - ref_images).max()),
        "reader": float(np.abs(reader - ref_reader).max()),
        "verifier": float(np.abs(verifier - ref_verifier).max()),
    }
    # And end to end, as served: latents in, verdicts out.
    _, end_reader, end_verifier = onnx_models.infer(z, 0.0)
    rule = (reader_threshold, verifier_threshold)
    ours = oracle.judge(end_reader, end_verifier, *rule, margin=margin)
    theirs = oracle.judge(ref_reader, ref_verifier, *rule, margin=margin)
    served_same = bool(
        np.array_equal(ours.accepted, theirs.accepted)
        and np.array_equal(ours.labels[ours.accepted], theirs.labels[ours.accepted])
    )
    return {
        "seed": seed,
        "batch": batch,
        "max_abs_diff": diffs,
        "tolerance": TOLERANCE,
        "served": int(theirs.accepted.sum()),
        "served_labels_match": served_same,
        "argmax_match": bool(
            np.array_equal(ours.labels, theirs.labels)
            and np.array_equal(end_verifier.argmax(1), ref_verifier.argmax(1))
        ),
    }


def export_set(
    sources: Mapping[str, Path],
    target: Path,
    reader_threshold: float,
    verifier_threshold: float,
    margin: float = constants.DEFAULT_MARGIN,
    log: Log = lambda _: None,
) -> dict[str, Any]:
    """Export the .keras files ``sources`` names by role into ``target`` (a
    staging folder); the figures for metadata.json's "onnx" section.

    Raises ExportError when the two runtimes disagree.
    """
    import onnx
    import onnxruntime
    import tf2onnx

    loaded = {
        role: keras.models.load_model(sources[role], compile=False) for role in ROLES
    }
    paths = dict(
        zip(ROLES, (target / name for name in constants.ONNX_FILES), strict=True)
    )
    for role in ROLES:
        export_model(loaded[role], role, paths[role])
    figures = parity(
        loaded,
        ModelSet.load(paths=paths),
        reader_threshold,
        verifier_threshold,
        margin,
    )
    worst = max(figures["max_abs_diff"].values())
    log(
        "export: ONNX opset {} written; largest difference from Keras {:.2g} "
        "({}), served labels {}".format(
            constants.ONNX_OPSET,
            worst,
            ", ".join(f"{k} {v:.2g}" for k, v in figures["max_abs_diff"].items()),
            "identical" if figures["served_labels_match"] else "DIFFERENT",
        )
    )
    if worst > TOLERANCE or not figures["served_labels_match"]:
        raise ExportError(
            f"the ONNX export disagrees with Keras (largest difference {worst:.3g}, "
            f"served labels match: {figures['served_labels_match']}); nothing "
            "was installed"
        )
    return {
        "opset": constants.ONNX_OPSET,
        "files": list(constants.ONNX_FILES),
        "tensorflow_version": tf.__version__,
        "tf2onnx_version": tf2onnx.__version__,
        "onnx_version": onnx.__version__,
        "onnxruntime_version": onnxruntime.__version__,
        "parity": figures,
    }


def export_model_dir(
    model_dir: Path,
    reader_threshold: float,
    verifier_threshold: float,
    margin: float = constants.DEFAULT_MARGIN,
    log: Log = lambda _: None,
) -> dict[str, Any]:
    """Add (or redo) the ONNX export of the model set in ``model_dir``.

    The .keras files must be sound (present, of this format, matching their
    checksums). The ONNX files are staged, checked against Keras, moved into
    place, and metadata.json, naming their checksums, is written last.
    """
    status = artifacts.inspect_model_dir(model_dir)
    if status.code in ("missing", "not_configured"):
        raise ExportError(status.message)
    try:
        meta = artifacts.read_metadata(model_dir)
    except (OSError, ValueError) as exc:
        raise ExportError(f"unreadable metadata.json: {exc}") from exc
    if (
        meta.get("format_version") != constants.MODEL_FORMAT_VERSION
        or meta.get("latent_dim") != constants.LATENT_DIM
        or meta.get("image_size") != constants.IMAGE_SIZE
    ):
        raise ExportError(status.message)
    files = meta.get("files") or {}
    for name in constants.MODEL_FILES:
        if files.get(name) != artifacts.sha256(model_dir / name):
            raise ExportError(
                f"{name} does not match the checksum in metadata.json; "
                "retrain or restore the set before exporting it"
            )
    sources = dict(
        zip(ROLES, (model_dir / name for name in constants.MODEL_FILES), strict=True)
    )
    with staging(model_dir) as folder:
        section = export_set(
            sources, folder, reader_threshold, verifier_threshold, margin, log
        )
        artifacts.install_staged(folder, model_dir)
    meta["files"] = {
        **files,
        **{n: artifacts.sha256(model_dir / n) for n in constants.ONNX_FILES},
    }
    meta["onnx"] = section
    artifacts.write_metadata(model_dir, meta)
    return section


@contextlib.contextmanager
def staging(out: Path) -> Iterator[Path]:
    """A fresh folder beside ``out``'s files (one file system), removed after."""
    out.mkdir(parents=True, exist_ok=True)
    folder = out / f".staging-{os.getpid()}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
