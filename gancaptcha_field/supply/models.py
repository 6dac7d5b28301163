"""Internal. The one inference path: the generator, reader and verifier in ONNX Runtime.

Serving (the registry), the latent bank's fitting and the lab all run the
networks through a ``ModelSet``. It imports onnxruntime and numpy, never
TensorFlow. The exported graphs already run in inference mode (they were traced
with training=False: BatchNorm's moving statistics, no dropout); the
generator's tanh output is scaled by ``constants.generator_to_classifier_range``
before the reader and the verifier, here and nowhere else at serving time.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from gancaptcha_field import constants

# Keys of ``ModelSet.load``'s paths: the role each network plays.
ROLES = ("generator", "reader", "verifier")

# Intra-op threads per session in a process that answers web requests (the
# registry passes it there; 0 is ONNX Runtime's default, a thread per core).
# Its workers already keep the cores busy with requests: a second inference
# thread per session only competed with them, for no fewer CPU seconds per
# challenge (benchmarks/sustained.py prints them).
WEB_SERVER_THREADS = 1


class ModelSet:
    """Three ONNX Runtime sessions: draw digits, read them, verify them."""

    def __init__(self, generator: Any, reader: Any, verifier: Any) -> None:
        """Wrap three onnxruntime.InferenceSession objects."""
        self._sessions: dict[str, Any] = {
            "generator": generator,
            "reader": reader,
            "verifier": verifier,
        }
        # One input and one output each (the export names them).
        self._names = {
            role: (s.get_inputs()[0].name, s.get_outputs()[0].name)
            for role, s in self._sessions.items()
        }

    @classmethod
    def load(
        cls,
        model_dir: Path | None = None,
        paths: Mapping[str, Path] | None = None,
        threads: int = 0,
    ) -> ModelSet:
        """The ONNX files of ``model_dir`` (or the files ``paths`` names by
        role), each run on ``threads`` intra-op threads (0: one per core);
        raises what onnxruntime raises for a missing or corrupt file."""
        if threads < 0:
            raise ValueError(f"threads must be 0 (one per core) or more: {threads}")
        import onnxruntime as ort

        if paths is None:
            if model_dir is None:
                raise ValueError("give a model directory or the files' paths")
            paths = dict(
                zip(ROLES, (model_dir / n for n in constants.ONNX_FILES), strict=True)
            )
        options = ort.SessionOptions()
        options.log_severity_level = 3  # errors only: no per-node notices
        # Idle worker threads sleep instead of spinning: a web host shares its
        # cores with the site, and spinning burnt CPU for no speed here.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.intra_op_num_threads = threads
        # No arena: it kept the largest batch's buffers for the process's life
        # (a web worker's resident memory), and cost no measurable time here.
        options.enable_cpu_mem_arena = False
        sessions = [
            ort.InferenceSession(
                str(paths[role]), options, providers=["CPUExecutionProvider"]
            )
            for role in ROLES
        ]
        return cls(*sessions)

    def _run(self, role: str, x: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(x, dtype=np.float32)
        if not len(x):
            size = constants.IMAGE_SIZE
            shape: tuple[int, ...] = (0, constants.NUM_CLASSES)
            if role == "generator":
                shape = (0, size, size, 1)
            return np.zeros(shape, np.float32)
        name_in, name_out = self._names[role]
        session = self._sessions[role]
        (out,) = session.run([name_out], {name_in: x})
        return np.asarray(out, np.float32)

    def generate(self, z: np.ndarray) -> np.ndarray:
        """Latents (n, 100) to images (n, 28, 28, 1) in the generator's [-1, 1]."""
        return self._run("generator", z)

    def read(self, unit: np.ndarray) -> np.ndarray:
        """The reader's class probabilities (n, 10) for images in [0, 1]."""
        return self._run("reader", _as_images(unit))

    def verify(self, unit: np.ndarray) -> np.ndarray:
        """The verifier's class probabilities (n, 10) for images in [0, 1]."""
        return self._run("verifier", _as_images(unit))

    def draw_and_read(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Generated images, the same in [0, 1], and the reader's probabilities."""
        images = self.generate(z)
        unit = constants.generator_to_classifier_range(images)
        return images, unit, self.read(unit)

    def infer(
        self, z: np.ndarray, reader_threshold: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Images and both classifiers' probabilities for latents ``z``.

        Only the digits the reader is sure of (max probability at least
        ``reader_threshold``) reach the verifier, which costs far more than
        the reader; the others get zeros, which no rule accepts.
        """
        images, unit, reader_probs = self.draw_and_read(z)
        verifier_probs = np.zeros_like(reader_probs)
        sure = np.flatnonzero(reader_probs.max(axis=1) >= reader_threshold)
        if sure.size:
            verifier_probs[sure] = self.verify(unit[sure])
        return images, reader_probs, verifier_probs


def _as_images(unit: np.ndarray) -> np.ndarray:
    size = constants.IMAGE_SIZE
    return np.asarray(unit, np.float32).reshape(-1, size, size, 1)
