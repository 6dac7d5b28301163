"""Internal. The trap: what stock solvers read in each challenge, kept as its baits.

A program that copies the public repository reads a challenge the way the
tutorials do: a 3x3 median and a threshold, cuts where the column projection
is lowest near where four equal digits would part, each piece boxed into
20x20 and centred by its centre of mass as MNIST's digits are, and an MNIST
classifier. At render time the site does the same with its own two
classifiers, the reader and the verifier, and keeps each reading that is
wrong: the baits, sealed with the answer. A wrong answer that repeats two
misread digits of one bait (``challenges.springs``) is a bot signal, counted
against the client (GANCAPTCHA_TRAP_PENALTY) and sent as
``signals.trap_sprung``.

The step after render, before store. numpy and Pillow here; the reader runs
in the registry. The cutting and centring are this module's own, not the
attacker lab's (``lab/vision.py``) nor the dev attackers'
(``benchmarks/harden_dev.py``): the instruments that measure the trap must
not change when it does, nor it when they do.
"""

from __future__ import annotations

import itertools

import numpy as np
from PIL import Image, ImageFilter

from gancaptcha_field import constants

SIZE = constants.IMAGE_SIZE
PIECES = constants.ANSWER_LENGTH
THRESHOLD = 0.5  # ink, after the median
# Each cut is sought this far (as a share of a quarter of the ink's width)
# either side of where equal digits would part.
SEARCH = 0.45


def _ink(strip: np.ndarray) -> np.ndarray:
    """A served strip (dark on light, uint8) as ink in [0, 1], median-filtered."""
    image = Image.fromarray(255 - strip).filter(ImageFilter.MedianFilter(3))
    return np.asarray(image, np.float32) / 255.0


def _cuts(mask: np.ndarray) -> list[int]:
    """Four column ranges' edges: the least-inked column near each equal split."""
    profile = mask.sum(axis=0).astype(np.float64)
    inked = np.flatnonzero(profile)
    if inked.size == 0:
        width = mask.shape[1]
        return [round(width * k / PIECES) for k in range(PIECES + 1)]
    left, right = int(inked[0]), int(inked[-1]) + 1
    quarter = (right - left) / PIECES
    # A little smoothing, so a single thin column does not win by itself.
    smooth = np.convolve(profile, np.ones(3) / 3, mode="same")
    edges = [left]
    for k in range(1, PIECES):
        centre = left + k * quarter
        lo = max(edges[-1] + 1, int(centre - SEARCH * quarter))
        hi = min(right - 1, int(centre + SEARCH * quarter) + 1)
        edges.append(lo + int(np.argmin(smooth[lo:hi])) if hi > lo else lo)
    edges.append(right)
    return edges


def _centred(piece: np.ndarray) -> np.ndarray:
    """Box the ink into 20x20 and put its centre of mass at the middle of 28x28."""
    out = np.zeros((SIZE, SIZE), np.float32)
    rows = np.flatnonzero(piece.max(axis=1) > 0.05)
    cols = np.flatnonzero(piece.max(axis=0) > 0.05)
    if rows.size == 0:
        return out
    box = piece[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    scale = 20.0 / max(box.shape)
    height = max(1, min(20, round(box.shape[0] * scale)))
    width = max(1, min(20, round(box.shape[1] * scale)))
    image = Image.fromarray((box * 255).astype(np.uint8))
    fitted = np.asarray(
        image.resize((width, height), Image.Resampling.BILINEAR), np.float32
    )
    mass = fitted.sum()
    if mass <= 0:
        return out
    ys, xs = np.indices(fitted.shape)
    top = round(SIZE / 2 - (ys * fitted).sum() / mass)
    left = round(SIZE / 2 - (xs * fitted).sum() / mass)
    top = min(max(top, 0), SIZE - height)
    left = min(max(left, 0), SIZE - width)
    out[top : top + height, left : left + width] = fitted / 255.0
    return out


def pieces(strip: np.ndarray) -> np.ndarray:
    """One served strip (h, w) uint8, dark on light, as (4, 28, 28) digits in [0, 1]."""
    if not isinstance(strip, np.ndarray) or strip.dtype != np.uint8 or strip.ndim != 2:
        raise ValueError("strip must be a 2-D uint8 numpy array")
    ink = _ink(strip)
    mask = ink > THRESHOLD
    edges = _cuts(mask)
    kept = np.where(mask, ink, 0.0)
    return np.stack([_centred(kept[:, a:b]) for a, b in itertools.pairwise(edges)])


def baits(strips: list[np.ndarray], answers: list[str]) -> list[tuple[str, ...]]:
    """Per strip, the site's classifiers' readings through this pipeline that
    are not the answer, each once; () when both read the answer (no trap)."""
    if len(strips) != len(answers):
        raise ValueError("one answer per strip")
    if not strips:
        return []
    # Here, not at the top: importing trap must not load the models.
    from gancaptcha_field.supply import registry

    cut = np.concatenate([pieces(strip) for strip in strips])
    readings = [
        probs.argmax(axis=1).reshape(len(strips), PIECES)
        for probs in registry.get_registry().read(cut)
    ]
    out = []
    for index, answer in enumerate(answers):
        found: list[str] = []
        for read in readings:
            reading = "".join(str(int(d)) for d in read[index])
            if reading != answer and reading not in found:
                found.append(reading)
        out.append(tuple(found))
    return out
