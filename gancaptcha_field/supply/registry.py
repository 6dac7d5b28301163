"""The models behind the CAPTCHA: loaded once per process, read in batches.

The networks run in ONNX Runtime through ``supply.models.ModelSet``, imported
only when the models are loaded, so forms, views and checks import without it.
Nothing here imports TensorFlow.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from gancaptcha_field import constants, oracle
from gancaptcha_field.artifacts import Status, inspect_model_dir, read_metadata
from gancaptcha_field.conf import conf
from gancaptcha_field.supply import latents, models

logger = logging.getLogger(__name__)


class CaptchaUnavailable(Exception):
    """No challenge can be made right now; the form fails closed."""


class ModelsUnavailable(CaptchaUnavailable):
    """The model files are missing, corrupt or incompatible."""


class DigitSupplyError(CaptchaUnavailable):
    """A label's bucket could not be filled within GANCAPTCHA_MAX_BATCHES."""


class _Rule(NamedTuple):
    """What a digit must pass to be served; buckets drawn under another are dropped."""

    reader_threshold: float
    verifier_threshold: float
    margin: float
    latent_bank: bool


def serving_rule() -> _Rule:
    """The rule the settings ask for now."""
    return _Rule(
        conf.READER_THRESHOLD,
        conf.VERIFIER_THRESHOLD,
        conf.MARGIN,
        conf.LATENT_BANK,
    )


class Registry:
    """Loads the generator, reader and verifier and keeps per-label buckets."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._model_set: models.ModelSet | None = None
        self._status = Status(False, "unloaded", "Models not loaded yet.")
        self._loaded_from: Path | None = None
        self._attempted = False
        self._rule: _Rule | None = None
        self._buckets: dict[int, deque[tuple[np.ndarray, float, float]]] = {}
        self._bank: latents.LatentBank | None = None
        # Serving noise comes from the OS, never from the training seed.
        self._rng = np.random.default_rng(secrets.randbits(128))
        self.inference_batches = 0  # model calls made; benchmarks read it
        self.digits_drawn = 0  # generator images made; benchmarks read it
        # Per label: draws asked of the bank, and digits that passed.
        self.asked_per_label = np.zeros(constants.NUM_CLASSES, np.int64)
        self.passed_per_label = np.zeros(constants.NUM_CLASSES, np.int64)

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
            self._model_set = self._bank = None
            self._buckets = {}
            status = inspect_model_dir(model_dir)
            if status.ok:
                assert model_dir is not None
                status = self._load_models(model_dir)
            if status.ok:
                assert model_dir is not None
                self._bank = self._load_bank(model_dir)
            if not status.ok:
                logger.error(
                    "GanCaptcha unavailable (%s): %s", status.code, status.message
                )
            self._status = status
            return status

    def _load_models(self, model_dir: Path) -> Status:
        try:
            model_set = models.ModelSet.load(model_dir)
            # One warm-up call checks the shapes and sizes the buffers, so the
            # first visitor does not pay for it.
            size = constants.IMAGE_SIZE
            z = np.zeros((2, constants.LATENT_DIM), np.float32)
            images, reader_probs, verifier_probs = model_set.infer(z, 0.0)
            if (
                tuple(images.shape) != (2, size, size, 1)
                or tuple(reader_probs.shape) != (2, constants.NUM_CLASSES)
                or tuple(verifier_probs.shape) != (2, constants.NUM_CLASSES)
            ):
                return Status(False, "incompatible", "Model shapes do not match.")
        except Exception as exc:  # corrupt files raise many kinds of error
            logger.exception("GanCaptcha could not load models from %s", model_dir)
            return Status(
                False, "incompatible", f"Could not load models from {model_dir}: {exc}"
            )
        self._model_set = model_set
        logger.info("GanCaptcha models loaded from %s (ONNX Runtime)", model_dir)
        return Status(True, "ok", f"Models loaded from {model_dir}.")

    def _load_bank(self, model_dir: Path) -> latents.LatentBank | None:
        # Optional: without a bank, or with one refused, the old way serves
        # (every draw is checked either way; the bank only makes passing likely).
        try:
            return latents.load_bank(model_dir, read_metadata(model_dir))
        except (OSError, ValueError, latents.LatentBankError) as exc:
            logger.error(
                "GanCaptcha: latent bank refused, drawing plain noise instead: %s", exc
            )
            return None

    def model_set(self) -> models.ModelSet:
        """The loaded networks, for code that reads with them (the lab); raises
        ModelsUnavailable when they cannot serve."""
        status = self.load()
        model_set = self._model_set
        if not status.ok or model_set is None:
            raise ModelsUnavailable(status.message)
        return model_set

    @property
    def has_bank(self) -> bool:
        """Whether draws start from the model set's latent bank."""
        return self._bank is not None and conf.LATENT_BANK

    def status(self) -> Status:
        """The current status, loading the models on first use."""
        return self.load()

    def reset(self) -> None:
        """Forget the models and buckets (tests, or after retraining)."""
        with self._lock:
            self._attempted = False
            self._model_set = self._bank = None
            self._buckets = {}
            self._status = Status(False, "unloaded", "Models not loaded yet.")

    def _asked_labels(self, label: int | None, size: int) -> np.ndarray:
        # Up to ``size`` draws, ``label`` first, then the emptiest buckets, each
        # label asked for at most its free room: one call refills several
        # labels and few checked digits are thrown away for a full bucket.
        cap = conf.BUCKET_SIZE
        room = {
            d: cap - len(self._buckets.get(d, ())) for d in range(constants.NUM_CLASSES)
        }
        order = sorted((d for d in room if d != label), key=lambda d: -room[d])
        first = order[0] if label is None else label
        asked: list[int] = []
        for d in (first, *(d for d in order if d != first)):
            asked.extend([d] * min(max(room[d], 0), size - len(asked)))
        return np.array(asked or [first] * size, np.int64)

    def _generate_batch(self, label: int | None = None) -> None:
        rule = self._rule
        assert self._model_set is not None and rule is not None
        size = conf.BATCH_SIZE
        bank = self._bank if rule.latent_bank else None
        asked: np.ndarray | None = None
        if bank is None:
            z = self._rng.standard_normal((size, constants.LATENT_DIM))
        else:
            asked = self._asked_labels(label, size)
            z = bank.sample(asked, self._rng)
            size = len(asked)
        images, reader_probs, verifier_probs = self._model_set.infer(
            z.astype(np.float32), rule.reader_threshold
        )
        self.inference_batches += 1
        self.digits_drawn += size
        verdict = oracle.judge(
            np.asarray(reader_probs),
            np.asarray(verifier_probs),
            rule.reader_threshold,
            rule.verifier_threshold,
            margin=rule.margin,
            expected=asked,
        )
        if asked is not None:
            self.asked_per_label += np.bincount(asked, minlength=constants.NUM_CLASSES)
        self.passed_per_label += np.bincount(
            verdict.labels[verdict.accepted], minlength=constants.NUM_CLASSES
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

    def apply_rule(self) -> None:
        """Take the serving rule from the settings; a new one empties buckets."""
        rule = serving_rule()
        if rule != self._rule:
            self._rule, self._buckets = rule, {}

    def draw_with_details(
        self, labels: Sequence[int] | np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Checked digits showing ``labels``, with the reader's and the verifier's
        confidence in each (both classifiers gave each digit its label)."""
        with self._lock:
            status = self.load()
            if not status.ok:
                raise ModelsUnavailable(status.message)
            self.apply_rule()
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
                    self._generate_batch(label)
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

    def read(self, digits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The reader's and the verifier's class probabilities, (n, 10) each,
        for (n, 28, 28) digits in [0, 1], white on black (the trap's readings)."""
        with self._lock:
            status = self.load()
            if not status.ok or self._model_set is None:
                raise ModelsUnavailable(status.message)
            model_set = self._model_set
        unit = np.asarray(digits, np.float32).reshape(
            -1, constants.IMAGE_SIZE, constants.IMAGE_SIZE, 1
        )
        if not len(unit):
            empty = np.zeros((0, constants.NUM_CLASSES), np.float32)
            return empty, empty
        self.inference_batches += 1
        return model_set.read(unit), model_set.verify(unit)

    def draw(self, labels: Sequence[int]) -> np.ndarray:
        """uint8 digits (n, 28, 28), white on black, each checked to show its label."""
        return self.draw_with_details(labels)[0]

    def clear_buckets(self) -> None:
        """Drop the checked digits waiting in every bucket (benchmarks)."""
        with self._lock:
            self._buckets = {}

    def bucket_sizes(self) -> dict[int, int]:
        """How many checked digits wait in each label's bucket."""
        with self._lock:
            return {label: len(b) for label, b in sorted(self._buckets.items())}


_registry = Registry()


def get_registry() -> Registry:
    """The process-wide registry."""
    return _registry
