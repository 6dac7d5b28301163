"""The serving rule: the reader must be sure and the verifier must agree."""

from __future__ import annotations

import numpy as np

from gancaptcha_field import oracle


def probs(label: int, p: float) -> np.ndarray:
    row = np.full(10, (1 - p) / 9, np.float32)
    row[label] = p
    return row


def test_accepts_only_confident_and_agreeing_digits() -> None:
    reader = np.stack([probs(3, 0.9999), probs(3, 0.9999), probs(5, 0.98)])
    verifier = np.stack([probs(3, 0.995), probs(8, 0.995), probs(5, 0.999)])
    verdict = oracle.judge(reader, verifier, 0.999, 0.99)
    assert verdict.labels.tolist() == [3, 3, 5]
    assert verdict.accepted.tolist() == [True, False, False]
    assert np.isclose(verdict.confidence[0], 0.9999)


def test_zero_thresholds_still_demand_agreement() -> None:
    reader = np.stack([probs(1, 0.3), probs(2, 0.3)])
    verifier = np.stack([probs(1, 0.2), probs(7, 0.9)])
    assert oracle.judge(reader, verifier, 0.0, 0.0).accepted.tolist() == [True, False]


def test_to_uint8_maps_the_generator_range() -> None:
    x = np.array([-1.0, 0.0, 1.0, 1.5, -2.0] + [0.0] * 779).reshape(1, 28, 28, 1)
    out = oracle.to_uint8(x)
    assert out.dtype == np.uint8 and out.shape == (1, 28, 28)
    assert out.ravel()[:5].tolist() == [0, 128, 255, 255, 0]
