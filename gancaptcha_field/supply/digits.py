"""Internal. Checked digits in numpy: per-label buckets, the serving rule, the latent
bank.

A ``DigitSupply`` runs over one loaded ``ModelSet`` (and its latent bank, if
any): it draws latents (from the bank for the labels asked, or plain noise),
has the model set draw and read them, keeps in each label's bucket the digits
that pass the serving rule (``oracle.judge``: the thresholds and the margin),
and hands them out. It also reads digits for the trap. Loading the models is
the registry's (supply/registry.py), not this module's.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from gancaptcha_field import artifacts, constants, oracle
from gancaptcha_field.conf import conf
from gancaptcha_field.supply import latents, models
from gancaptcha_field.supply.errors import DigitSupplyError

logger = logging.getLogger(__name__)


class Rule(NamedTuple):
    """What a digit must pass to be served; buckets drawn under another are dropped."""

    reader_threshold: float
    verifier_threshold: float
    margin: float
    latent_bank: bool


def serving_rule(meta: Mapping[str, Any] | None = None) -> Rule:
    """The rule now: what ``meta`` (the model set's metadata.json) records,
    with GANCAPTCHA_SERVING_RULE over it (artifacts.serving_rule), and
    whether draws start from the latent bank."""
    return Rule(*artifacts.serving_rule(meta), conf.DRAW["latent_bank"])


def _per_label() -> np.ndarray:
    return np.zeros(constants.NUM_CLASSES, np.int64)


@dataclass
class Counters:
    """What the supply has cost, for the benchmarks; kept across model loads."""

    inference_batches: int = 0  # model calls made
    digits_drawn: int = 0  # generator images made
    # Per label: draws asked of the bank, and digits that passed.
    asked_per_label: np.ndarray = field(default_factory=_per_label)
    passed_per_label: np.ndarray = field(default_factory=_per_label)


Entry = tuple[np.ndarray, float, float]  # digit, reader's and verifier's confidence


class DigitSupply:
    """Per-label buckets of checked digits, drawn with one model set."""

    def __init__(
        self,
        model_set: models.ModelSet,
        bank: latents.LatentBank | None,
        rng: np.random.Generator,
        counters: Counters | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> None:
        """Draw with ``model_set``, from ``bank`` when the rule says so, with
        noise from ``rng`` (serving's comes from the OS, never a training seed),
        by the rule the set's metadata ``meta`` records."""
        self.model_set = model_set
        self.meta: Mapping[str, Any] = meta or {}
        self.bank = bank
        self.rng = rng
        self.counters = counters if counters is not None else Counters()
        self._lock = threading.Lock()
        self._rule: Rule | None = None
        self._buckets: dict[int, deque[Entry]] = {}

    @property
    def has_bank(self) -> bool:
        """Whether draws start from the latent bank."""
        return self.bank is not None and conf.DRAW["latent_bank"]

    @property
    def rule(self) -> Rule:
        """The serving rule now (it follows the settings)."""
        return serving_rule(self.meta)

    def apply_rule(self) -> None:
        """Take the serving rule now; a new one empties the buckets."""
        rule = self.rule
        if rule != self._rule:
            self._rule, self._buckets = rule, {}

    def _asked_labels(self, label: int | None, size: int) -> np.ndarray:
        # Up to ``size`` draws, ``label`` first, then the emptiest buckets, each
        # label asked for at most its free room: one call refills several
        # labels and few checked digits are thrown away for a full bucket.
        cap = conf.DRAW["bucket_size"]
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
        assert rule is not None
        counters = self.counters
        size = conf.DRAW["batch_size"]
        bank = self.bank if rule.latent_bank else None
        asked: np.ndarray | None = None
        if bank is None:
            z = self.rng.standard_normal((size, constants.LATENT_DIM))
        else:
            asked = self._asked_labels(label, size)
            z = bank.sample(asked, self.rng)
            size = len(asked)
        images, reader_probs, verifier_probs = self.model_set.infer(
            z.astype(np.float32), rule.reader_threshold
        )
        counters.inference_batches += 1
        counters.digits_drawn += size
        verdict = oracle.judge(
            np.asarray(reader_probs),
            np.asarray(verifier_probs),
            rule.reader_threshold,
            rule.verifier_threshold,
            margin=rule.margin,
            expected=asked,
        )
        if asked is not None:
            counters.asked_per_label += np.bincount(
                asked, minlength=constants.NUM_CLASSES
            )
        counters.passed_per_label += np.bincount(
            verdict.labels[verdict.accepted], minlength=constants.NUM_CLASSES
        )
        digits = oracle.to_uint8(np.asarray(images))
        cap = conf.DRAW["bucket_size"]
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
            self.apply_rule()
            images, confidence, verifier_confidence = [], [], []
            for label in labels:
                label = int(label)
                if not 0 <= label < constants.NUM_CLASSES:
                    raise ValueError(f"not a digit: {label}")
                bucket = self._buckets.setdefault(label, deque())
                batches = 0
                while not bucket:
                    if batches >= conf.DRAW["max_batches"]:
                        logger.error(
                            "GanCaptcha: no digit %d passed the filters in %d "
                            "batches of %d; failing closed",
                            label,
                            batches,
                            conf.DRAW["batch_size"],
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
        unit = np.asarray(digits, np.float32).reshape(
            -1, constants.IMAGE_SIZE, constants.IMAGE_SIZE, 1
        )
        if not len(unit):
            empty = np.zeros((0, constants.NUM_CLASSES), np.float32)
            return empty, empty
        self.counters.inference_batches += 1
        return self.model_set.read(unit), self.model_set.verify(unit)

    def clear_buckets(self) -> None:
        """Drop the checked digits waiting in every bucket."""
        with self._lock:
            self._buckets = {}

    def bucket_sizes(self) -> dict[int, int]:
        """How many checked digits wait in each label's bucket."""
        with self._lock:
            return {label: len(b) for label, b in sorted(self._buckets.items())}
