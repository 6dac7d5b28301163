"""The models behind the CAPTCHA: loaded once per process, read in batches.

This is the only serving module that imports TensorFlow, and it does so only
when the models are loaded, so forms, views and checks import without it.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from gancaptcha_field import constants, oracle
from gancaptcha_field.artifacts import Status, inspect_model_dir
from gancaptcha_field.conf import conf

logger = logging.getLogger(__name__)


class CaptchaUnavailable(Exception):
    """No challenge can be made right now; the form fails closed."""


class ModelsUnavailable(CaptchaUnavailable):
    """The model files are missing, corrupt or incompatible."""


class DigitSupplyError(CaptchaUnavailable):
    """A label's bucket could not be filled within GANCAPTCHA_MAX_BATCHES."""


class Registry:
    """Loads the generator, reader and verifier and keeps per-label buckets."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._models: tuple[Any, Any, Any] | None = None
        self._infer: Any = None
        self._status = Status(False, "unloaded", "Models not loaded yet.")
        self._loaded_from: Path | None = None
        self._attempted = False
        self._thresholds: tuple[float, float] | None = None
        self._buckets: dict[int, deque[tuple[np.ndarray, float, float]]] = {}
        # Serving noise comes from the OS, never from the training seed.
        self._rng = np.random.default_rng(secrets.randbits(128))
        self.inference_batches = 0  # TensorFlow calls made; benchmarks read it

    def load(self) -> Status:
        """Load the models from GANCAPTCHA_MODEL_DIR once; never raises."""
        model_dir = conf.MODEL_DIR
        if self._attempted and model_dir == self._loaded_from:
            # Fast path without the lock: status checks on every form must not
            # queue behind another visitor's draw.
            return self._status
        with self._lock:
            model_dir = conf.MODEL_DIR
            if self._attempted and model_dir == self._loaded_from:
                return self._status
            self._attempted, self._loaded_from = True, model_dir
            self._models = self._infer = None
            self._buckets = {}
            status = inspect_model_dir(model_dir)
            if status.ok:
                assert model_dir is not None
                status = self._load_models(model_dir)
            if not status.ok:
                logger.error(
                    "GanCaptcha unavailable (%s): %s", status.code, status.message
                )
            self._status = status
            return status

    def _load_models(self, model_dir: Path) -> Status:
        try:
            import keras
            import tensorflow as tf

            models = tuple(
                keras.models.load_model(model_dir / name, compile=False)
                for name in constants.MODEL_FILES
            )
            generator, reader, verifier = models

            size = constants.IMAGE_SIZE

            @tf.function(reduce_retracing=True)
            def draw_and_read(z: Any) -> tuple[Any, Any, Any]:
                images = generator(z, training=False)
                unit = constants.generator_to_classifier_range(images)
                return images, unit, reader(unit, training=False)

            # Any number of digits in one trace: only those the reader is sure
            # of reach the verifier, which costs far more than the reader.
            @tf.function(
                input_signature=[tf.TensorSpec([None, size, size, 1], tf.float32)]
            )
            def verify(unit: Any) -> Any:
                return verifier(unit, training=False)

            def infer(z: Any, reader_threshold: float) -> tuple[Any, Any, Any]:
                images, unit, reader_probs = draw_and_read(z)
                reader_probs = np.asarray(reader_probs)
                verifier_probs = np.zeros_like(reader_probs)
                sure = np.flatnonzero(reader_probs.max(axis=1) >= reader_threshold)
                if sure.size:
                    unit_sure = np.asarray(unit)[sure]
                    verifier_probs[sure] = np.asarray(verify(unit_sure))
                return images, reader_probs, verifier_probs

            # One warm-up call both checks the shapes and traces the graphs,
            # so the first visitor does not pay for it.
            z = np.zeros((2, constants.LATENT_DIM), np.float32)
            images, reader_probs, verifier_probs = infer(z, 0.0)
            if (
                tuple(images.shape) != (2, size, size, 1)
                or tuple(reader_probs.shape) != (2, constants.NUM_CLASSES)
                or tuple(verifier_probs.shape) != (2, constants.NUM_CLASSES)
            ):
                return Status(False, "incompatible", "Model shapes do not match.")
        except Exception as exc:  # corrupt archives raise many kinds of error
            logger.exception("GanCaptcha could not load models from %s", model_dir)
            return Status(
                False, "incompatible", f"Could not load models from {model_dir}: {exc}"
            )
        self._models = models
        self._infer = infer
        logger.info("GanCaptcha models loaded from %s", model_dir)
        return Status(True, "ok", f"Models loaded from {model_dir}.")

    def status(self) -> Status:
        """The current status, loading the models on first use."""
        return self.load()

    def reset(self) -> None:
        """Forget the models and buckets (tests, or after retraining)."""
        with self._lock:
            self._attempted = False
            self._models = self._infer = None
            self._buckets = {}
            self._status = Status(False, "unloaded", "Models not loaded yet.")

    def _generate_batch(self) -> None:
        assert self._infer is not None and self._thresholds is not None
        z = self._rng.standard_normal((conf.BATCH_SIZE, constants.LATENT_DIM))
        images, reader_probs, verifier_probs = self._infer(
            z.astype(np.float32), self._thresholds[0]
        )
        self.inference_batches += 1
        verdict = oracle.judge(
            np.asarray(reader_probs), np.asarray(verifier_probs), *self._thresholds
        )
        digits = oracle.to_uint8(np.asarray(images))
        cap = conf.BUCKET_SIZE
        for index in np.flatnonzero(verdict.accepted):
            bucket = self._buckets.setdefault(int(verdict.labels[index]), deque())
            if len(bucket) < cap:
                bucket.append(
                    (
                        digits[index],
                        float(verdict.confidence[index]),
                        float(verdict.verifier_confidence[index]),
                    )
                )

    def draw_with_details(
        self, labels: Sequence[int] | np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Checked digits showing ``labels``, with the reader's and the verifier's
        confidence in each (both classifiers gave each digit its label)."""
        with self._lock:
            status = self.load()
            if not status.ok:
                raise ModelsUnavailable(status.message)
            thresholds = (conf.READER_THRESHOLD, conf.VERIFIER_THRESHOLD)
            if thresholds != self._thresholds:
                self._thresholds, self._buckets = thresholds, {}
            images, confidence, verifier_confidence = [], [], []
            for label in labels:
                label = int(label)
                if not 0 <= label < constants.NUM_CLASSES:
                    raise ValueError(f"not a digit: {label}")
                bucket = self._buckets.setdefault(label, deque())
                batches = 0
                while not bucket:
                    if batches >= conf.MAX_BATCHES:
                        logger.error(
                            "GanCaptcha: no digit %d passed the filters in %d "
                            "batches of %d; failing closed",
                            label,
                            batches,
                            conf.BATCH_SIZE,
                        )
                        raise DigitSupplyError(f"no servable digit {label}")
                    self._generate_batch()
                    batches += 1
                image, reader_value, verifier_value = bucket.popleft()
                images.append(image)
                confidence.append(reader_value)
                verifier_confidence.append(verifier_value)
            return (
                np.stack(images),
                np.array(confidence, np.float32),
                np.array(verifier_confidence, np.float32),
            )

    def draw(self, labels: Sequence[int]) -> np.ndarray:
        """uint8 digits (n, 28, 28), white on black, each checked to show its label."""
        return self.draw_with_details(labels)[0]

    def bucket_sizes(self) -> dict[int, int]:
        """How many checked digits wait in each label's bucket."""
        with self._lock:
            return {label: len(b) for label, b in sorted(self._buckets.items())}


_registry = Registry()


def get_registry() -> Registry:
    """The process-wide registry."""
    return _registry
