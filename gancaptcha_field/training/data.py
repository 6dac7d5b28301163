"""Internal. MNIST sources: the bundled offline copy, Keras' download, or a local
file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


class DataError(Exception):
    """The training data could not be loaded; the message says why."""


@dataclass(frozen=True)
class Mnist:
    """MNIST in Keras' layout: uint8 images (n, 28, 28), white on black."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str

    def limited(self, limit: int | None, seed: int) -> Mnist:
        """The first ``limit`` digits of a seeded shuffle of the training split."""
        if limit is None or limit >= len(self.x_train):
            return self
        order = np.random.default_rng(seed).permutation(len(self.x_train))[:limit]
        return Mnist(
            self.x_train[order],
            self.y_train[order],
            self.x_test,
            self.y_test,
            f"{self.source} (limit {limit})",
        )


def load_npz(path: Path, source: str | None = None) -> Mnist:
    """Read a file in Keras' mnist.npz layout and check its shape."""
    if not path.is_file():
        raise DataError(f"MNIST file not found: {path}")
    try:
        with np.load(path) as data:
            arrays = {k: data[k] for k in ("x_train", "y_train", "x_test", "y_test")}
    except KeyError as exc:
        raise DataError(
            f"{path} is not in Keras' mnist.npz layout (missing {exc})"
        ) from exc
    except (OSError, ValueError) as exc:
        raise DataError(f"{path} could not be read as an .npz file: {exc}") from exc
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.ndim != 3 or x.shape[1:] != (28, 28) or len(x) != len(y) or not len(x):
            raise DataError(f"{path}: x_{split}/y_{split} must be (n, 28, 28)/(n,)")
    return Mnist(
        arrays["x_train"].astype(np.uint8),
        arrays["y_train"].astype(np.uint8),
        arrays["x_test"].astype(np.uint8),
        arrays["y_test"].astype(np.uint8),
        source or str(path),
    )


def load_keras() -> Mnist:
    """The standard ``keras.datasets.mnist`` download (needs the internet)."""
    import keras

    try:
        (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    except Exception as exc:  # urllib, HTTP and hash errors all end here
        raise DataError(
            f"could not download MNIST through Keras ({exc.__class__.__name__}: "
            f"{exc}). Offline? Use --data bundled or --data PATH."
        ) from exc
    return Mnist(x_train, y_train, x_test, y_test, "keras.datasets.mnist")


def load(spec: str, model_dir: Path | None) -> Mnist:
    """``bundled`` (model_dir/data/mnist.npz), ``keras``, or a path."""
    from gancaptcha_field.constants import BUNDLED_DATA_FILE

    if spec == "keras":
        return load_keras()
    if spec == "bundled":
        if model_dir is None:
            raise DataError(
                "GANCAPTCHA_MODEL_DIR is not set, so there is no "
                "bundled MNIST; use --data keras or --data PATH."
            )
        path = model_dir / BUNDLED_DATA_FILE
        if not path.is_file():
            raise DataError(
                f"the bundled MNIST copy is absent ({path}); it ships only in "
                "the source repository. Use --data keras (downloads) or "
                "--data PATH (a local file in Keras' mnist.npz layout)."
            )
        return load_npz(path, "bundled")
    return load_npz(Path(spec))
