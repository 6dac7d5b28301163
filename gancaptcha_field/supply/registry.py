"""Internal. The models behind the CAPTCHA, loaded once per process (from ``ready()``).

The registry loads the model set (``supply.models.ModelSet``: ONNX Runtime,
imported only when the models are loaded, so forms, views and checks import
without it) and its latent bank, and hands the drawing and the reading to a
``DigitSupply`` over them (supply/digits.py: the buckets, the serving rule,
the bank's draws). Nothing here imports TensorFlow.
"""

from __future__ import annotations

import logging
import secrets
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from gancaptcha_field import constants
from gancaptcha_field.artifacts import (
    Status,
    inspect_model_dir,
    read_metadata,
    read_metadata_or_empty,
)
from gancaptcha_field.conf import conf
from gancaptcha_field.supply import latents, models
from gancaptcha_field.supply.digits import Counters, DigitSupply, Rule, serving_rule
from gancaptcha_field.supply.errors import (
    CaptchaUnavailable,
    DigitSupplyError,
    ModelsUnavailable,
)

# The exceptions and serving_rule lived here once; imports of them keep working.
__all__ = [
    "CaptchaUnavailable",
    "DigitSupplyError",
    "ModelsUnavailable",
    "Registry",
    "Status",
    "get_registry",
    "inspect_model_dir",
    "serving_rule",
]

logger = logging.getLogger(__name__)


class Registry:
    """Loads the generator, reader and verifier once, and the supply over them."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._supply: DigitSupply | None = None
        self._status = Status(False, "unloaded", "Models not loaded yet.")
        self._loaded_from: Path | None = None
        self._attempted = False
        # Serving noise comes from the OS, never from the training seed.
        self._rng = np.random.default_rng(secrets.randbits(128))
        # Benchmarks read these; they outlive a reload.
        self.counters = Counters()

    @property
    def rng(self) -> np.random.Generator:
        """Where the supply's noise comes from (tests and benchmarks seed it)."""
        return self._rng

    @rng.setter
    def rng(self, rng: np.random.Generator) -> None:
        self._rng = rng
        if self._supply is not None:
            self._supply.rng = rng

    @property
    def inference_batches(self) -> int:
        """Model calls made in this process."""
        return self.counters.inference_batches

    @property
    def digits_drawn(self) -> int:
        """Generator images made in this process."""
        return self.counters.digits_drawn

    @property
    def asked_per_label(self) -> np.ndarray:
        """Per label, the draws asked of the latent bank."""
        return self.counters.asked_per_label

    @property
    def passed_per_label(self) -> np.ndarray:
        """Per label, the digits that passed the serving rule."""
        return self.counters.passed_per_label

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
            self._supply = None
            status = inspect_model_dir(model_dir)
            model_set: models.ModelSet | None = None
            if status.ok:
                assert model_dir is not None
                status, model_set = self._load_models(model_dir)
            if model_set is not None:
                assert model_dir is not None
                self._supply = DigitSupply(
                    model_set,
                    self._load_bank(model_dir),
                    self._rng,
                    self.counters,
                    read_metadata_or_empty(model_dir),
                )
            if not status.ok:
                logger.error(
                    "GanCaptcha unavailable (%s): %s", status.code, status.message
                )
            self._status = status
            return status

    def _load_models(self, model_dir: Path) -> tuple[Status, models.ModelSet | None]:
        try:
            model_set = models.ModelSet.load(model_dir, threads=_threads())
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
                status = Status(False, "incompatible", "Model shapes do not match.")
                return status, None
        except Exception as exc:  # corrupt files raise many kinds of error
            logger.exception("GanCaptcha could not load models from %s", model_dir)
            message = f"Could not load models from {model_dir}: {exc}"
            return Status(False, "incompatible", message), None
        logger.info("GanCaptcha models loaded from %s (ONNX Runtime)", model_dir)
        return Status(True, "ok", f"Models loaded from {model_dir}."), model_set

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

    def digits(self) -> DigitSupply:
        """The supply over the loaded models; raises ModelsUnavailable when
        they cannot serve."""
        status = self.load()
        supply = self._supply
        if not status.ok or supply is None:
            raise ModelsUnavailable(status.message)
        return supply

    def model_set(self) -> models.ModelSet:
        """The loaded networks, for code that reads with them (the lab); raises
        ModelsUnavailable when they cannot serve."""
        return self.digits().model_set

    @property
    def has_bank(self) -> bool:
        """Whether draws start from the model set's latent bank."""
        supply = self._supply
        return supply is not None and supply.has_bank

    def status(self) -> Status:
        """The current status, loading the models on first use."""
        return self.load()

    def reset(self) -> None:
        """Forget the models and buckets (tests, or after retraining)."""
        with self._lock:
            self._attempted = False
            self._supply = None
            self._status = Status(False, "unloaded", "Models not loaded yet.")

    def apply_rule(self) -> None:
        """Take the serving rule now; a new one empties the buckets."""
        self.digits().apply_rule()

    def serving_rule(self) -> Rule:
        """The rule digits are served by now: the loaded set's metadata.json
        with GANCAPTCHA_SERVING_RULE over it (without a loaded set: the
        set in GANCAPTCHA_MODEL_DIR's)."""
        supply = self._supply
        if supply is not None:
            return supply.rule
        model_dir = conf.MODEL_DIR
        meta = {} if model_dir is None else read_metadata_or_empty(model_dir)
        return serving_rule(meta)

    def draw_with_details(
        self, labels: Sequence[int] | np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Checked digits showing ``labels``, with the reader's and the verifier's
        confidence in each (both classifiers gave each digit its label)."""
        return self.digits().draw_with_details(labels)

    def read(self, digits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The reader's and the verifier's class probabilities, (n, 10) each,
        for (n, 28, 28) digits in [0, 1], white on black (the trap's readings)."""
        return self.digits().read(digits)

    def draw(self, labels: Sequence[int]) -> np.ndarray:
        """uint8 digits (n, 28, 28), white on black, each checked to show its label."""
        return self.draw_with_details(labels)[0]

    def clear_buckets(self) -> None:
        """Drop the checked digits waiting in every bucket (benchmarks)."""
        supply = self._supply
        if supply is not None:
            supply.clear_buckets()

    def bucket_sizes(self) -> dict[int, int]:
        """How many checked digits wait in each label's bucket."""
        supply = self._supply
        return {} if supply is None else supply.bucket_sizes()


def _threads() -> int:
    """Intra-op threads for this process: fewer in a web server (models.py)."""
    from gancaptcha_field.apps import is_web_server

    if is_web_server(sys.argv, under_test="pytest" in sys.modules):
        return models.WEB_SERVER_THREADS
    return 0


_registry = Registry()


def get_registry() -> Registry:
    """The process-wide registry."""
    return _registry
