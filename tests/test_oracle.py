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


def two_way(label: int, runner_up: int, p: float, q: float) -> np.ndarray:
    row = np.full(10, (1 - p - q) / 8, np.float64)
    row[label], row[runner_up] = p, q
    return row


def test_log_margin_is_the_log_ratio_of_the_top_two() -> None:
    rows = np.stack([two_way(2, 7, 0.99, 0.009), two_way(4, 9, 0.6, 0.3)])
    assert np.allclose(oracle.log_margin(rows), [np.log(0.99 / 0.009), np.log(2)])
    # A zero runner-up gives a large finite margin, not inf or nan.
    assert np.isfinite(oracle.log_margin(np.eye(10)[:1])).all()


def test_margin_rejects_digits_whose_runner_up_is_close_in_either_classifier() -> None:
    # Each passes 0.999 / 0.99; only the first leads by e^9 in both.
    reader = np.stack(
        [
            two_way(2, 7, 0.99995, 0.00001),
            two_way(2, 7, 0.9991, 0.0008),  # reader: runner-up too close
            two_way(2, 7, 0.99995, 0.00001),
        ]
    )
    verifier = np.stack(
        [
            two_way(2, 7, 0.9995, 0.0001),
            two_way(2, 7, 0.9995, 0.0001),
            two_way(2, 7, 0.995, 0.004),  # verifier: runner-up too close
        ]
    )
    assert oracle.judge(reader, verifier, 0.999, 0.99).accepted.all()
    verdict = oracle.judge(reader, verifier, 0.999, 0.99, margin=9.0)
    assert verdict.accepted.tolist() == [True, False, False]


def test_expected_label_must_match() -> None:
    reader = np.stack([probs(3, 0.9999), probs(5, 0.9999)])
    verifier = np.stack([probs(3, 0.999), probs(5, 0.999)])
    verdict = oracle.judge(reader, verifier, 0.999, 0.99, expected=np.array([3, 3]))
    assert verdict.accepted.tolist() == [True, False]
    assert verdict.labels.tolist() == [3, 5]
