"""Internal. The rule that decides which generated digits may be served (numpy only).

Training calibrates with it and serving filters with it, so both agree.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from gancaptcha_field.constants import IMAGE_SIZE


class Verdict(NamedTuple):
    """Per-digit reader label, both classifiers' confidence in it, and whether
    it may be served."""

    labels: np.ndarray  # uint8 (n,)
    confidence: np.ndarray  # float32 (n,), the reader's
    accepted: np.ndarray  # bool (n,)
    verifier_confidence: np.ndarray  # float32 (n,), the verifier's, same label


def log_margin(probs: np.ndarray) -> np.ndarray:
    """ln(top1 / top2) per row: how far the first class leads the runner-up.

    Measured on a log scale because the thresholds already force the
    probability gap above 0.98, where it no longer tells shapes apart.
    """
    top2 = np.sort(np.asarray(probs, np.float64), axis=1)[:, -2:]
    tiny = np.finfo(np.float32).tiny
    return np.log(np.maximum(top2[:, 1], tiny)) - np.log(np.maximum(top2[:, 0], tiny))


def judge(
    reader_probs: np.ndarray,
    verifier_probs: np.ndarray,
    reader_threshold: float,
    verifier_threshold: float,
    margin: float = 0.0,
    expected: np.ndarray | None = None,
) -> Verdict:
    """Accept a digit when the reader is sure and the verifier agrees.

    The label is the reader's argmax; the verifier must give that same label a
    probability of at least ``verifier_threshold`` *and* rank it first, so a
    threshold below 0.5 still demands agreement. With ``margin`` > 0 both
    classifiers' ``log_margin`` must reach it; with ``expected`` (the label the
    generator was asked to draw) the label must be that one.
    """
    labels = reader_probs.argmax(axis=1)
    rows = np.arange(len(labels))
    confidence = reader_probs[rows, labels].astype(np.float32)
    verifier_confidence = verifier_probs[rows, labels].astype(np.float32)
    agree = verifier_probs.argmax(axis=1) == labels
    accepted = (
        (confidence >= reader_threshold)
        & agree
        & (verifier_confidence >= verifier_threshold)
    )
    if margin > 0:
        accepted &= (log_margin(reader_probs) >= margin) & (
            log_margin(verifier_probs) >= margin
        )
    if expected is not None:
        accepted &= labels == np.asarray(expected)
    return Verdict(labels.astype(np.uint8), confidence, accepted, verifier_confidence)


def to_uint8(generated: np.ndarray) -> np.ndarray:
    """Generator output in [-1, 1] to uint8 digits, white on black (n, 28, 28)."""
    flat = np.asarray(generated).reshape(-1, IMAGE_SIZE, IMAGE_SIZE)
    return np.clip(np.rint((flat + 1.0) * 127.5), 0, 255).astype(np.uint8)
