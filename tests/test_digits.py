"""The digit supply: buckets per label, the serving rule, the bank's draws,
the trap's reading; over a numpy stand-in for the model set."""

from __future__ import annotations

import numpy as np
import pytest
from pytest_django import Settings

from gancaptcha_field import challenges, constants
from gancaptcha_field.conf import conf
from gancaptcha_field.supply import digits, errors, latents, registry, source, throttle

N = constants.NUM_CLASSES
SIZE = constants.IMAGE_SIZE


class LabelledModels:
    """Each latent draws a digit of the label its first ten numbers point to
    (the image filled with label / 10 in [0, 1]), which both classifiers read
    sure."""

    def __init__(self) -> None:
        self.calls = 0

    def _probs(self, labels: np.ndarray) -> np.ndarray:
        return np.eye(N, dtype=np.float32)[labels]

    def infer(
        self, z: np.ndarray, reader_threshold: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        self.calls += 1
        labels = np.asarray(z)[:, :N].argmax(axis=1)
        images = np.broadcast_to(
            (labels / 5.0 - 1.0)[:, None, None, None], (len(z), SIZE, SIZE, 1)
        ).astype(np.float32)
        probs = self._probs(labels)
        return images, probs, probs

    def read(self, unit: np.ndarray) -> np.ndarray:
        labels = np.rint(np.asarray(unit)[:, 0, 0, 0] * 10).astype(int) % N
        return self._probs(labels)

    verify = read


def supply(bank: latents.LatentBank | None = None) -> digits.DigitSupply:
    return digits.DigitSupply(
        LabelledModels(),  # type: ignore[arg-type]
        bank,
        np.random.default_rng(0),
    )


def one_hot_bank() -> latents.LatentBank:
    # Each label's latents point at that label: every bank draw passes.
    return latents.LatentBank(
        {d: np.eye(constants.LATENT_DIM, dtype=np.float32)[[d]] * 5 for d in range(N)},
        0.01,
    )


def test_checked_digits_of_the_asked_labels_with_both_confidences(
    settings: Settings,
) -> None:
    settings.GANCAPTCHA_SERVING_RULE = {"margin": 0.0}
    drawn = supply()
    images, reader, verifier = drawn.draw_with_details([3, 1, 4])
    assert images.shape == (3, SIZE, SIZE) and images.dtype == np.uint8
    assert [round(float(i[0, 0]) / 255 * 10) for i in images] == [3, 1, 4]
    assert (reader == 1.0).all() and (verifier == 1.0).all()
    counters = drawn.counters
    assert counters.inference_batches >= 1
    assert counters.digits_drawn == counters.inference_batches * conf.DRAW["batch_size"]
    assert counters.passed_per_label.sum() >= 3
    with pytest.raises(ValueError, match="not a digit"):
        drawn.draw_with_details([10])


def test_a_new_serving_rule_empties_the_buckets(settings: Settings) -> None:
    settings.GANCAPTCHA_SERVING_RULE = {"margin": 0.0}
    drawn = supply()
    drawn.draw_with_details([0])
    assert sum(drawn.bucket_sizes().values()) > 0
    drawn.apply_rule()  # the same rule: kept
    assert sum(drawn.bucket_sizes().values()) > 0
    settings.GANCAPTCHA_SERVING_RULE = {"margin": 0.0, "reader_threshold": 0.5}
    drawn.apply_rule()
    assert drawn.bucket_sizes() == {}
    assert digits.serving_rule().reader_threshold == 0.5


def test_the_rule_is_the_model_sets_unless_the_setting_names_a_key(
    settings: Settings,
) -> None:
    settings.GANCAPTCHA_SERVING_RULE = None
    meta = {"thresholds": {"reader": 0.3, "verifier": 0.2, "margin": 1.0}}
    drawn = digits.DigitSupply(
        LabelledModels(),  # type: ignore[arg-type]
        None,
        np.random.default_rng(0),
        meta=meta,
    )
    assert drawn.rule == digits.Rule(0.3, 0.2, 1.0, True)
    settings.GANCAPTCHA_SERVING_RULE = {"verifier_threshold": 0.9}
    assert drawn.rule == digits.Rule(0.3, 0.9, 1.0, True)


def test_the_bank_is_asked_for_the_label_first(settings: Settings) -> None:
    settings.GANCAPTCHA_SERVING_RULE = {"margin": 0.0}
    settings.GANCAPTCHA_DRAW = {"latent_bank": True}
    drawn = supply(one_hot_bank())
    assert drawn.has_bank
    drawn.draw_with_details([8])
    assert drawn.counters.inference_batches == 1
    assert drawn.counters.asked_per_label[8] >= 1
    settings.GANCAPTCHA_DRAW = {"latent_bank": False}
    assert not drawn.has_bank


class UnsureModels(LabelledModels):
    """The reader is never sure: the verifier is skipped, nothing passes."""

    def infer(
        self, z: np.ndarray, reader_threshold: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        images, reader, _ = super().infer(z, reader_threshold)
        return images, reader * 0.5, np.zeros_like(reader)


def test_a_label_that_never_passes_fails_closed_in_bounded_batches(
    settings: Settings,
) -> None:
    settings.GANCAPTCHA_DRAW = {"max_batches": 2}
    drawn = digits.DigitSupply(
        UnsureModels(),  # type: ignore[arg-type]
        None,
        np.random.default_rng(0),
    )
    with pytest.raises(errors.DigitSupplyError):
        drawn.draw_with_details([5])
    assert drawn.counters.inference_batches == 2


def test_the_traps_reading_counts_a_batch_and_skips_none() -> None:
    drawn = supply()
    reader, verifier = drawn.read(np.zeros((0, SIZE, SIZE)))
    assert reader.shape == verifier.shape == (0, N)
    assert drawn.counters.inference_batches == 0
    reader, verifier = drawn.read(np.full((2, SIZE, SIZE), 0.7, np.float32))
    assert reader.argmax(axis=1).tolist() == [7, 7]
    assert drawn.counters.inference_batches == 1


def test_every_error_callers_catch_is_one_family_under_its_old_names() -> None:
    assert registry.CaptchaUnavailable is errors.CaptchaUnavailable
    assert challenges.CaptchaUnavailable is errors.CaptchaUnavailable
    assert registry.ModelsUnavailable is errors.ModelsUnavailable
    assert registry.DigitSupplyError is errors.DigitSupplyError
    assert source.PoolEmpty is challenges.PoolEmpty is errors.PoolEmpty
    assert throttle.DrawingBusy is errors.DrawingBusy
    for name in errors.__all__:
        assert issubclass(getattr(errors, name), errors.CaptchaUnavailable)


def test_the_registry_hands_its_seed_and_counters_to_the_supply(
    settings: Settings,
) -> None:
    settings.GANCAPTCHA_MODEL_DIR = None
    fresh = registry.Registry()
    seeded = np.random.default_rng(1)
    fresh.rng = seeded
    assert fresh.rng is seeded
    assert not fresh.load().ok
    with pytest.raises(errors.ModelsUnavailable):
        fresh.digits()
    assert fresh.bucket_sizes() == {} and fresh.inference_batches == 0
