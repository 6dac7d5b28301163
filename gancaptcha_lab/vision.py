"""What a scraper does to a challenge PNG before any classifier sees it.

Decode to ink (white on black, [0, 1]), clean it up (one of PREPROCESSING),
cut it into four pieces (one of SEGMENTATIONS), and centre each piece the way
MNIST was made: fit its bounding box into 20x20, paste it into 28x28, and move
its centre of mass to the middle. Nothing here assumes the served width, the
cell size or the layout; "equal" cells is only one guess among three.
Numpy and Pillow only, so the tests run without TensorFlow.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageFilter

from gancaptcha_field import constants

PIECES = constants.ANSWER_LENGTH
SIZE = constants.IMAGE_SIZE
INK = 0.3  # a pixel darker than this (as ink) counts when looking for shapes
_MIN_AREA = 0.002  # of the image: specks smaller than this are noise

Image2D = np.ndarray  # (h, w) float32 in [0, 1], ink = 1


def decode(png: bytes) -> Image2D:
    """A PNG, any size or mode, to float ink in [0, 1] (dark pixels are ink)."""
    with Image.open(io.BytesIO(png)) as image:
        grey = np.asarray(image.convert("L"), np.float32)
    return 1.0 - grey / 255.0


def _pil(image: Image2D) -> Image.Image:
    return Image.fromarray(np.clip(image * 255.0 + 0.5, 0, 255).astype(np.uint8))


def _array(image: Image.Image) -> Image2D:
    return np.asarray(image, np.float32) / 255.0


def _threshold(image: Image2D) -> Image2D:
    return (image > 0.5).astype(np.float32)


def _median(image: Image2D) -> Image2D:
    return _array(_pil(image).filter(ImageFilter.MedianFilter(3)))


def _blur(image: Image2D) -> Image2D:
    return _array(_pil(image).filter(ImageFilter.GaussianBlur(1.0)))


def _downscale(image: Image2D) -> Image2D:
    height, width = image.shape
    if height <= SIZE:
        return image
    new_width = max(PIECES, round(width * SIZE / height))
    return _array(_pil(image).resize((new_width, SIZE), Image.Resampling.BOX))


PREPROCESSING: dict[str, Callable[[Image2D], Image2D]] = {
    "none": lambda image: image,
    "threshold": _threshold,
    "median3": _median,
    "blur": _blur,
    "downscale28": _downscale,
}


# A piece: its pixels (the image masked to the piece), before centring.
def _equal(image: Image2D) -> list[Image2D]:
    edges = np.linspace(0, image.shape[1], PIECES + 1).round().astype(int)
    return [image[:, a:b] for a, b in itertools.pairwise(edges)]


def label_components(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """8-connected components of a boolean mask: (labels, count); 0 = background."""
    height, width = mask.shape
    ids = np.where(mask, np.arange(1, mask.size + 1).reshape(mask.shape), 0)
    # Spread the largest id through each blob until nothing changes.
    while True:
        padded = np.pad(ids, 1)
        spread = ids.copy()
        for dy in (0, 1, 2):
            for dx in (0, 1, 2):
                np.maximum(
                    spread, padded[dy : dy + height, dx : dx + width], out=spread
                )
        spread = np.where(mask, spread, 0)
        if np.array_equal(spread, ids):
            break
        ids = spread
    unique = np.unique(ids[mask])
    labels = np.zeros(mask.shape, np.int32)
    labels[mask] = np.searchsorted(unique, ids[mask]) + 1
    return labels, int(unique.size)


def _split_at_valley(mask: np.ndarray) -> int:
    """The column to cut a too-wide blob at: least ink in its middle half."""
    profile = mask.sum(axis=0).astype(np.float64)
    width = len(profile)
    low, high = width // 4, max(width // 4 + 1, (3 * width) // 4)
    return low + int(np.argmin(profile[low:high]))


def _to_four(masks: list[np.ndarray]) -> list[np.ndarray]:
    """Merge the narrowest into its nearest neighbour, or split the widest, to 4."""
    masks = [m for m in masks if m.any()]

    def span(mask: np.ndarray) -> tuple[int, int]:
        columns = np.flatnonzero(mask.any(axis=0))
        return int(columns[0]), int(columns[-1]) + 1

    while len(masks) > PIECES:
        masks.sort(key=lambda m: span(m)[0])
        widths = [span(m)[1] - span(m)[0] for m in masks]
        i = int(np.argmin(widths))
        centre = sum(span(masks[i])) / 2
        others = [j for j in range(len(masks)) if j != i]
        j = min(others, key=lambda k: abs(sum(span(masks[k])) / 2 - centre))
        masks[j] = masks[j] | masks[i]
        del masks[i]
    while 0 < len(masks) < PIECES:
        widths = [span(m)[1] - span(m)[0] for m in masks]
        i = int(np.argmax(widths))
        if widths[i] < 2:
            break
        a, b = span(masks[i])
        cut = a + _split_at_valley(masks[i][:, a:b])
        left, right = masks[i].copy(), masks[i].copy()
        left[:, cut:] = False
        right[:, :cut] = False
        masks[i : i + 1] = [m for m in (left, right) if m.any()] or [masks[i]]
        if len(masks) == len(widths):  # nothing to split any more
            break
    masks.sort(key=lambda m: span(m)[0])
    return masks


def _pieces_from_masks(image: Image2D, masks: list[np.ndarray]) -> list[Image2D]:
    pieces = [np.where(m, image, 0.0).astype(np.float32) for m in masks]
    while len(pieces) < PIECES:  # a blank strip still gets four (empty) pieces
        pieces.append(np.zeros_like(image))
    return pieces


def _grow(mask: np.ndarray, steps: int = 2) -> np.ndarray:
    height, width = mask.shape
    for _ in range(steps):
        padded = np.pad(mask, 1)
        grown = mask.copy()
        for dy in (0, 1, 2):
            for dx in (0, 1, 2):
                grown |= padded[dy : dy + height, dx : dx + width]
        mask = grown
    return mask


def _components(image: Image2D) -> list[Image2D]:
    mask = image > INK
    labels, count = label_components(mask)
    min_area = _MIN_AREA * mask.size
    masks = [labels == n for n in range(1, count + 1)]
    masks = [m for m in masks if m.sum() >= min_area]
    # The faint rim of each stroke (below INK) goes with its blob too.
    return _pieces_from_masks(image, [_grow(m) for m in _to_four(masks)])


def _projection(image: Image2D) -> list[Image2D]:
    mask = image > INK
    inked = np.asarray(mask.any(axis=0), dtype=bool)
    runs: list[np.ndarray] = []
    start = None
    flags: list[bool] = [bool(v) for v in inked.tolist()]
    for x, on in enumerate([*flags, False]):
        if on and start is None:
            start = x
        elif not on and start is not None:
            run = np.zeros_like(mask)
            run[:, start:x] = mask[:, start:x]
            runs.append(run)
            start = None
    min_area = _MIN_AREA * mask.size
    runs = [r for r in runs if r.sum() >= min_area]
    # Pieces keep the whole columns of their run (faint strokes included).
    masks = _to_four(runs)
    column_masks = []
    for m in masks:
        columns = np.flatnonzero(m.any(axis=0))
        full = np.zeros_like(mask)
        full[:, columns[0] : columns[-1] + 1] = True
        column_masks.append(full)
    return _pieces_from_masks(image, column_masks)


SEGMENTATIONS: dict[str, Callable[[Image2D], list[Image2D]]] = {
    "equal": _equal,
    "components": _components,
    "projection": _projection,
}


def mnist_centre(piece: Image2D) -> np.ndarray:
    """A piece as MNIST digits were made: box into 20x20, centre of mass at 14,14
    (where MNIST's own digits have theirs)."""
    out = np.zeros((SIZE, SIZE), np.float32)
    rows = np.flatnonzero((piece > 0.05).any(axis=1))
    cols = np.flatnonzero((piece > 0.05).any(axis=0))
    if rows.size == 0:
        return out
    box = piece[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    height, width = box.shape
    scale = 20.0 / max(height, width)
    new_h = max(1, min(20, round(height * scale)))
    new_w = max(1, min(20, round(width * scale)))
    fitted = _array(_pil(box).resize((new_w, new_h), Image.Resampling.LANCZOS))
    top, left = (SIZE - new_h) // 2, (SIZE - new_w) // 2
    out[top : top + new_h, left : left + new_w] = fitted
    mass = out.sum()
    if mass > 0:
        ys, xs = np.indices(out.shape)
        dy = round(float(SIZE / 2 - (ys * out).sum() / mass))
        dx = round(float(SIZE / 2 - (xs * out).sum() / mass))
        # Clip the shift so no ink leaves the 28x28 frame.
        dy = int(np.clip(dy, -top, SIZE - top - new_h))
        dx = int(np.clip(dx, -left, SIZE - left - new_w))
        out = np.roll(out, (dy, dx), axis=(0, 1))
    return out


def cut(png: bytes, preprocessing: str, segmentation: str) -> np.ndarray:
    """One challenge PNG to (4, 28, 28) MNIST-style digits, by one combination."""
    image = PREPROCESSING[preprocessing](decode(png))
    pieces = SEGMENTATIONS[segmentation](image)
    return np.stack([mnist_centre(p) for p in pieces[:PIECES]])


def combinations() -> list[tuple[str, str]]:
    """Every (preprocessing, segmentation) pair an attacker tries."""
    return [(p, s) for p in PREPROCESSING for s in SEGMENTATIONS]
