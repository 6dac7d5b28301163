"""Internal. The model files on disk: format, metadata, checksums, atomic writes.

Training writes through this module and serving checks through it, so both read
the same format. Nothing here imports TensorFlow: the checks run in every
process, pool-only web hosts included.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, cast

from gancaptcha_field import constants
from gancaptcha_field.conf import conf

# Pictures the training report writes beside the models, by the name the demo
# uses in its URLs.
REPORT_FILES = {
    "losses": constants.LOSS_PLOT_FILE,
    "samples": constants.SAMPLE_GRID_FILE,
    "pass_rates": constants.PASS_RATE_PLOT_FILE,
}


@dataclass(frozen=True)
class Status:
    """Whether the models can serve, with a code and a sentence saying why not."""

    ok: bool
    # "ok", "missing", "not_exported", "incompatible", "not_configured", "unloaded"
    code: str
    message: str


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path`` that replaces it on a clean exit.

    The caller writes the temporary file by any means (Keras, matplotlib,
    numpy); it is then flushed to disk and renamed over ``path``, so readers
    see the old file or the new one, never half of one. On any error, Ctrl-C
    included, the temporary file is removed and ``path`` is left as it was.
    The suffix is kept because Keras and matplotlib choose the format by it.
    """
    tmp = path.with_name(f".{path.stem}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
    tmp = tmp.with_name(tmp.name + path.suffix)
    try:
        yield tmp
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bytes(path: Path, payload: bytes) -> None:
    """Write ``payload`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(payload)


def write_json(path: Path, payload: Any) -> None:
    """Write ``payload`` as indented, key-sorted JSON to ``path`` atomically."""
    text = json.dumps(payload, indent=2, sort_keys=True) + "\n"
    write_bytes(path, text.encode())


def sha256(path: Path) -> str:
    """Hex digest of a file (metadata pins the exact files of a model set)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def checksums(model_dir: Path) -> dict[str, str]:
    """The sha256 of each model file (.keras and .onnx) present in ``model_dir``."""
    return {
        name: sha256(model_dir / name)
        for name in (*constants.MODEL_FILES, *constants.ONNX_FILES)
        if (model_dir / name).is_file()
    }


def read_metadata(model_dir: Path) -> dict[str, Any]:
    """The model set's metadata.json (raises OSError or ValueError)."""
    data = json.loads((model_dir / constants.METADATA_FILE).read_text())
    if not isinstance(data, dict):
        raise ValueError("metadata.json is not an object")
    return data


def read_metadata_or_empty(model_dir: Path) -> dict[str, Any]:
    """metadata.json, or {} when it is absent or unreadable."""
    try:
        return read_metadata(model_dir)
    except (OSError, ValueError):
        return {}


class ServingRule(NamedTuple):
    """What a drawn digit must pass to be served (oracle.judge's arguments)."""

    reader_threshold: float
    verifier_threshold: float
    margin: float


def _probability(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if 0.0 <= value <= 1.0 else None


def _non_negative(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if value >= 0 else None


def _at(meta: Mapping[str, Any], *path: str) -> object:
    node: object = meta
    for name in path:
        if not isinstance(node, Mapping):
            return None
        node = node.get(name)
    return node


def recorded_rule(meta: Mapping[str, Any]) -> dict[str, float]:
    """The serving rule a model set's metadata.json records, by key; a value it
    lacks (or holds in a form that is not a threshold) is left out.

    The thresholds are the ones training calibrated (``thresholds``); the margin
    is ``thresholds.margin``, else the one the latent bank was fitted for.
    """
    found = {
        "reader_threshold": _probability(_at(meta, "thresholds", "reader")),
        "verifier_threshold": _probability(_at(meta, "thresholds", "verifier")),
        "margin": _non_negative(_at(meta, "thresholds", "margin")),
    }
    if found["margin"] is None:
        found["margin"] = _non_negative(_at(meta, "latents", "fit", "config", "margin"))
    return {name: value for name, value in found.items() if value is not None}


def serving_rule(meta: Mapping[str, Any] | None = None) -> ServingRule:
    """The rule to serve by: what ``meta`` (a model set's metadata.json)
    records, with GANCAPTCHA_SERVING_RULE's keys over it, and
    constants.DEFAULT_* for what neither gives."""
    values: dict[str, float] = {
        "reader_threshold": constants.DEFAULT_READER_THRESHOLD,
        "verifier_threshold": constants.DEFAULT_VERIFIER_THRESHOLD,
        "margin": constants.DEFAULT_MARGIN,
    }
    values.update(recorded_rule(meta or {}))
    values.update(cast(Mapping[str, float], conf.SERVING_RULE or {}))
    return ServingRule(**values)


def write_metadata(model_dir: Path, metadata: dict[str, Any]) -> None:
    """Write metadata.json atomically; written last, it completes a model set."""
    write_json(model_dir / constants.METADATA_FILE, metadata)


def install_staged(staging: Path, model_dir: Path) -> list[str]:
    """Move every file of ``staging`` into ``model_dir``; the names moved.

    Each move is a rename within one file system, so each file is whole. The
    caller writes metadata.json afterwards: until then serving either finds the
    old checksums (and refuses a mixed set) or the new ones.
    """
    names = sorted(p.name for p in staging.iterdir() if p.is_file())
    for name in names:
        os.replace(staging / name, model_dir / name)
    return names


def inspect_model_dir(model_dir: Path | None) -> Status:
    """Check the files without loading them: present, of our format, unaltered,
    exported to ONNX."""
    if model_dir is None:
        return Status(False, "not_configured", "GANCAPTCHA_MODEL_DIR is not set.")
    names = (*constants.MODEL_FILES, constants.METADATA_FILE)
    missing = [name for name in names if not (model_dir / name).is_file()]
    if missing:
        return Status(
            False,
            "missing",
            f"Model files missing in {model_dir}: {', '.join(missing)}.",
        )
    try:
        meta = read_metadata(model_dir)
    except (OSError, ValueError) as exc:
        return Status(False, "incompatible", f"Unreadable metadata.json: {exc}")
    if meta.get("format_version") != constants.MODEL_FORMAT_VERSION:
        return Status(
            False,
            "incompatible",
            f"Model format {meta.get('format_version')!r} in {model_dir}; this "
            f"version of gancaptcha_field reads format "
            f"{constants.MODEL_FORMAT_VERSION}. Retrain.",
        )
    if (
        meta.get("latent_dim") != constants.LATENT_DIM
        or meta.get("image_size") != constants.IMAGE_SIZE
    ):
        return Status(False, "incompatible", "Latent size or image size differ.")
    hashes = meta.get("files") or {}
    for name in constants.MODEL_FILES:
        # A mismatch means a mixed or damaged set (say, one file copied over).
        if hashes.get(name) != sha256(model_dir / name):
            return Status(
                False,
                "incompatible",
                f"{name} does not match the checksum in metadata.json; the "
                "model set is mixed or damaged. Retrain or restore it.",
            )
    # Serving runs the ONNX export; a set trained before it existed has none.
    unexported = [
        name
        for name in constants.ONNX_FILES
        if name not in hashes or not (model_dir / name).is_file()
    ]
    if unexported:
        return Status(
            False,
            "not_exported",
            f"The models in {model_dir} have no ONNX export "
            f"({', '.join(unexported)}), which serving runs. Export them once: "
            f"{export_command(model_dir)}",
        )
    for name in constants.ONNX_FILES:
        if hashes[name] != sha256(model_dir / name):
            return Status(
                False,
                "incompatible",
                f"{name} does not match the checksum in metadata.json; the "
                f"model set is mixed or damaged. Export it again: "
                f"{export_command(model_dir)}",
            )
    return Status(True, "ok", f"Models in {model_dir} are ready.")


def export_command(model_dir: Path) -> str:
    """The one command that adds the ONNX files to an older model set."""
    return f"`python manage.py captcha_export_onnx --model-dir {model_dir}`"


def report_path(model_dir: Path | None, name: str) -> Path | None:
    """The report picture called ``name`` in ``model_dir``, if it exists."""
    file = REPORT_FILES.get(name)
    if file is None or model_dir is None:
        return None
    path = model_dir / file
    return path if path.is_file() else None
