"""Harden checked digits against stock solvers, keeping every label as people read it.

The step between check and render. ``plan()`` draws the geometry of one
challenge from its own generator: each digit mildly reshaped (width 0.8-1.2,
rotation and shear of a few degrees, its own baseline), neighbours kerned row
by row to a clear gap, the group at a random place, a 2 px pen line through
the middle of all of them, and a smooth elastic warp of the whole strip.
``render()`` draws that geometry at any scale. Nothing is cropped: every
stroke of every digit stays in the strip. numpy and Pillow only; nothing here
imports TensorFlow.
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from gancaptcha_field import constants

# The strip keeps today's size, one digit cell per character, so the widget's
# width and height attributes stay true and the size says nothing.
STRIP_HEIGHT = constants.IMAGE_SIZE
STRIP_WIDTH = constants.IMAGE_SIZE * constants.ANSWER_LENGTH

# Mild, label-preserving ranges (people read all of these without effort).
X_SCALE = (0.8, 1.2)
Y_SCALE = (1.0, 1.12)
MAX_ROTATION_DEG = 9.0
MAX_SHEAR = 0.12  # about 7 degrees; with rotation at most ~16 degrees of slant
BASELINE_JITTER = 2.0  # pixels up or down from the middle
# Ink-to-ink distance of neighbours where they come closest (negative: overlap).
# Touching digits resisted cutting better but people misread them; a narrow
# one (a 1) keeps a wider gap, or it reads as part of its neighbour (13 as B).
INK_GAP = (1.5, 2.5)
NARROW_GAP = (2.0, 3.0)
NARROW = 8.0  # pixels: a digit narrower than this is narrow
MAX_BOX_OVERLAP = 0.3  # of the narrower digit's width: never tuck one in another
EDGE_MARGIN = 1.5  # pixels of light border kept around all ink
LINES = 1  # pen lines through all the digits (two hid too much from people)
# The pen line: a little thinner than the strokes, so people tell it apart, but
# 2 px, which a 3x3 median keeps (1.3-1.6 px lines fell to it).
LINE_WIDTH = (1.8, 2.2)
LINE_BAND = (0.3, 0.7)  # where the lines run, as parts of the digits' height
WARP_AMPLITUDE = 1.2  # pixels: the largest shift of the elastic warp, per axis
WARP_WAVES = 3  # long waves summed per axis
INK_LEVEL = 32  # a pixel counts from faint grey on (white-on-black uint8)


@dataclass(frozen=True)
class Plan:
    """The geometry of one hardened challenge, in pixels of the 1x strip."""

    digits: np.ndarray  # (n, 28, 28) uint8, white on black, as checked
    # Per digit: the 2x3 affine map from strip coordinates to digit coordinates.
    inverse_affines: tuple[tuple[float, ...], ...]
    lines: tuple[tuple[tuple[float, float], ...], ...]  # each pen line's points
    line_width: float
    # (2, WARP_WAVES, 4): per axis and wave, kx, ky, phase and amplitude.
    waves: np.ndarray


def new_rng() -> np.random.Generator:
    """A per-challenge generator seeded from the OS, never from a public value."""
    return np.random.default_rng(secrets.randbits(128))


def _ink_points(digit: np.ndarray) -> np.ndarray:
    """Centres of the digit's ink pixels as (k, 2) float (x, y)."""
    ys, xs = np.nonzero(digit >= INK_LEVEL)
    if xs.size == 0:  # a blank digit: keep its centre so the layout stays sane
        half = constants.IMAGE_SIZE / 2
        return np.array([[half, half]])
    return np.stack([xs + 0.5, ys + 0.5], axis=1).astype(np.float64)


def _shape_matrix(rng: np.random.Generator, narrow: float) -> np.ndarray:
    """A 2x2 map: horizontal and vertical scale, shear, then a small rotation."""
    sx = rng.uniform(*X_SCALE) * narrow
    sy = rng.uniform(*Y_SCALE)
    shear = rng.uniform(-MAX_SHEAR, MAX_SHEAR)
    angle = math.radians(rng.uniform(-MAX_ROTATION_DEG, MAX_ROTATION_DEG))
    cos, sin = math.cos(angle), math.sin(angle)
    # rotation @ [[sx, shear * sy], [0, sy]], written out (this runs per digit).
    return np.array(
        [
            [cos * sx, cos * shear * sy - sin * sy],
            [sin * sx, sin * shear * sy + cos * sy],
        ]
    )


_ROWS = np.arange(STRIP_HEIGHT + 1)


def _row_edges(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per strip row, the leftmost and rightmost ink x (+inf / -inf: no ink).

    Each ink pixel is a unit square; it counts in every row it reaches.
    """
    lo = np.full(_ROWS.size, np.inf)
    hi = np.full(_ROWS.size, -np.inf)
    rows = np.floor(points[:, 1, None] + [-0.5, 0.0, 0.5]).astype(np.intp).ravel()
    rows = np.minimum(np.maximum(rows, 0), STRIP_HEIGHT)  # np.clip is slow here
    xs = np.repeat(points[:, 0], 3)
    np.minimum.at(lo, rows, xs - 0.5)
    np.maximum.at(hi, rows, xs + 0.5)
    return lo, hi


def _kern(
    left: tuple[np.ndarray, np.ndarray, float],
    right: tuple[np.ndarray, np.ndarray, float],
    gap: float,
) -> float:
    """How far right of ``left``'s box edge to put ``right``'s (both at x = 0).

    Each argument is (row left edges, row right edges, width) of a digit. The
    inks come within ``gap`` pixels of each other on the row where they come
    closest, but the boxes never overlap by more than MAX_BOX_OVERLAP of the
    narrower width, so no digit hides in another.
    """
    closest = left[1] - right[0]
    shared = np.isfinite(closest)
    touch = float(closest[shared].max()) if shared.any() else left[2]
    return max(touch + gap, left[2] - MAX_BOX_OVERLAP * min(left[2], right[2]))


def plan(digits: np.ndarray, rng: np.random.Generator) -> Plan:
    """Draw the geometry of one hardened challenge for (n, 28, 28) uint8 digits."""
    if not isinstance(digits, np.ndarray) or digits.dtype != np.uint8:
        raise ValueError("digits must be a uint8 numpy array")
    size = constants.IMAGE_SIZE
    if digits.ndim != 3 or digits.shape[0] < 1 or digits.shape[1:] != (size, size):
        raise ValueError(f"digits must have shape (n, {size}, {size})")
    border = EDGE_MARGIN + WARP_AMPLITUDE  # the warp may push ink outwards
    room = STRIP_WIDTH - 2 * border
    clouds = [_ink_points(digit) for digit in digits]
    centres = [cloud.mean(axis=0) for cloud in clouds]
    for attempt in range(8):
        # Narrower widths on later attempts, so a wide draw always fits.
        narrow = 1.0 - 0.06 * attempt
        matrices, shapes = [], []
        for cloud, centre in zip(clouds, centres, strict=True):
            matrix = _shape_matrix(rng, narrow)
            shape = (cloud - centre) @ matrix.T
            # Its own baseline, with every stroke kept inside the strip.
            low, high = shape[:, 1].min() - 0.5, shape[:, 1].max() + 0.5
            slack = max(0.0, (STRIP_HEIGHT - 2 * border - (high - low)) / 2)
            jitter = rng.uniform(-1, 1) * BASELINE_JITTER
            jitter = min(max(jitter, -slack), slack)
            shape[:, 1] += STRIP_HEIGHT / 2 + jitter - (low + high) / 2
            shape[:, 0] -= shape[:, 0].min() - 0.5  # box's left edge at x = 0
            matrices.append(matrix)
            shapes.append(shape)
        edges = [(*_row_edges(s), float(s[:, 0].max()) + 0.5) for s in shapes]
        offsets = [0.0]
        for i in range(1, len(shapes)):
            narrow_pair = min(edges[i - 1][2], edges[i][2]) < NARROW
            gap = rng.uniform(*(NARROW_GAP if narrow_pair else INK_GAP))
            step = _kern(edges[i - 1], edges[i], gap)
            offsets.append(offsets[-1] + step)
        right = max(e[2] + o for e, o in zip(edges, offsets, strict=True))
        if right <= room:
            break
    else:  # eight tries at narrower widths; squeeze the last one to fit
        factor = room / right
        matrices = [m * [[factor], [1.0]] for m in matrices]
        shapes = [s * [factor, 1.0] for s in shapes]
        offsets = [o * factor for o in offsets]
        right = room
    # A random start: equal cells no longer fall on the digits.
    start = border + rng.uniform(0.0, room - right)
    inverse_affines, lows, highs = [], [], []
    for matrix, centre, cloud, shape, offset in zip(
        matrices, centres, clouds, shapes, offsets, strict=True
    ):
        # strip = matrix @ (digit - centre) + translation, for every ink point.
        translation = shape[0] + [start + offset, 0.0] - matrix @ (cloud[0] - centre)
        inverse = np.linalg.inv(matrix)
        shift = centre - inverse @ translation  # digit = inverse @ strip + shift
        inverse_affines.append(
            tuple(float(v) for v in (*inverse[0], shift[0], *inverse[1], shift[1]))
        )
        lows.append(float(shape[:, 1].min()))
        highs.append(float(shape[:, 1].max()))
    reach = border + max(LINE_WIDTH) / 2  # the pen's round ends stay inside too
    lines = _pen_lines(
        rng,
        max(reach, start - 2.0),
        min(STRIP_WIDTH - reach, start + right + 2.0),
        lows,
        highs,
    )
    waves = np.empty((2, WARP_WAVES, 4))
    for axis in range(2):
        for wave in range(WARP_WAVES):
            wavelength = rng.uniform(14.0, 40.0)
            direction = rng.uniform(0.0, 2 * math.pi)
            waves[axis, wave] = (
                math.cos(direction) * 2 * math.pi / wavelength,
                math.sin(direction) * 2 * math.pi / wavelength,
                rng.uniform(0.0, 2 * math.pi),
                WARP_AMPLITUDE / WARP_WAVES,
            )
    return Plan(
        digits=digits.copy(),
        inverse_affines=tuple(inverse_affines),
        lines=lines,
        line_width=float(rng.uniform(*LINE_WIDTH)),
        waves=waves,
    )


def _pen_lines(
    rng: np.random.Generator,
    x0: float,
    x1: float,
    lows: list[float],
    highs: list[float],
) -> tuple[tuple[tuple[float, float], ...], ...]:
    """Gently waving lines from x0 to x1, kept in the middle band of the digits.

    The middle, not the top or the foot: a bar across the top of a 1 could make
    it a 7, one along the foot of a 7 a 2; through the middle it is a strike.
    """
    top, bottom = max(lows), min(highs)
    if bottom - top < 6.0:  # digits at very different heights: use the strip's
        top, bottom = STRIP_HEIGHT * 0.3, STRIP_HEIGHT * 0.7
    low = top + LINE_BAND[0] * (bottom - top)
    high = top + LINE_BAND[1] * (bottom - top)
    xs = np.linspace(x0, x1, 31)
    lines = []
    for _ in range(LINES):
        centre = rng.uniform(low, high)
        amplitude = rng.uniform(1.5, 3.5)
        wavelength = rng.uniform(30.0, 70.0)
        phase = rng.uniform(0.0, 2 * math.pi)
        ys = centre + amplitude * np.sin(2 * math.pi * xs / wavelength + phase)
        ys = np.minimum(np.maximum(ys, low), high)
        lines.append(tuple((float(x), float(y)) for x, y in zip(xs, ys, strict=True)))
    return tuple(lines)


def _displacement(
    plan: Plan, x: np.ndarray, y: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The warp's shift at the grid of ``x`` (w,) by ``y`` (h,): two (h, w) arrays."""
    out = []
    for axis in range(2):
        kx, ky, phase, amplitude = (plan.waves[axis, :, i, None] for i in range(4))
        a, b = kx * x[None, :], ky * y[None, :] + phase
        # sin(a + b) = sin a cos b + cos a sin b: one small matrix product.
        rows = np.concatenate([amplitude * np.cos(b), amplitude * np.sin(b)])
        cols = np.concatenate([np.sin(a), np.cos(a)])
        out.append((rows.T @ cols).astype(np.float32))
    return out[0], out[1]


def _sample(image: np.ndarray, gx: np.ndarray, gy: np.ndarray) -> np.ndarray:
    """Bilinear samples of ``image`` at continuous pixel coordinates (outside: 0)."""
    height, width = image.shape
    padded = np.zeros((height + 2, width + 2), np.float32)
    padded[1:-1, 1:-1] = image
    flat = padded.ravel()
    # Pixel centres sit at .5; the padding shifts indices by one.
    fx = np.minimum(np.maximum(gx + 0.5, 0.0), width + 0.999)
    fy = np.minimum(np.maximum(gy + 0.5, 0.0), height + 0.999)
    x0, y0 = fx.astype(np.int32), fy.astype(np.int32)
    wx, wy = fx - x0, fy - y0
    index = y0 * (width + 2) + x0
    a, b = flat.take(index), flat.take(index + 1)
    c, d = flat.take(index + width + 2), flat.take(index + width + 3)
    top = a + (b - a) * wx
    return np.asarray(top + (c + (d - c) * wx - top) * wy)


# Digits are upsampled this much (bicubic) before the bilinear samples, so
# edges stay smooth at 2x and beyond.
_SUPERSAMPLE = 2


def _ink_box(digit: np.ndarray) -> tuple[int, int, int, int]:
    """The digit's box of visible pixels (x0, y0, x1, y1), two pixels wider.

    The margin holds the grey fringe that bicubic upsampling adds.
    """
    size = constants.IMAGE_SIZE
    cols = np.flatnonzero(digit.max(axis=0) > 0)
    rows = np.flatnonzero(digit.max(axis=1) > 0)
    if cols.size == 0:
        return 0, 0, 1, 1
    return (
        max(0, int(cols[0]) - 2),
        max(0, int(rows[0]) - 2),
        min(size, int(cols[-1]) + 3),
        min(size, int(rows[-1]) + 3),
    )


def _digit_patches(
    plan: Plan, scale: int
) -> list[tuple[int, int, int, int, np.ndarray]]:
    """Each digit, warped, as (y0, y1, x0, x1, float32 patch 0-255) of the strip."""
    width, height = STRIP_WIDTH * scale, STRIP_HEIGHT * scale
    warped = bool(plan.waves[..., 3].any())
    xs = (np.arange(width, dtype=np.float32) + 0.5) / scale
    ys = (np.arange(height, dtype=np.float32) + 0.5) / scale
    if warped:
        # Output pixel (x, y) shows the strip's point (x, y) + shift(x, y).
        dx, dy = _displacement(plan, xs, ys)
    reach = float(np.abs(plan.waves[..., 3]).sum(axis=1).max()) + 1.0
    big = constants.IMAGE_SIZE * _SUPERSAMPLE
    patches = []
    for digit, (a, b, c, d, e, f) in zip(
        plan.digits, plan.inverse_affines, strict=True
    ):
        # Only the output pixels that can show this digit's ink.
        left, top, right, bottom = _ink_box(digit)
        corners = np.array(
            [[left, top], [right, top], [left, bottom], [right, bottom]], float
        )
        forward = np.linalg.inv(np.array([[a, b], [d, e]]))
        strip = (corners - [c, f]) @ forward.T
        x0 = max(0, int((strip[:, 0].min() - reach) * scale))
        x1 = min(width, math.ceil((strip[:, 0].max() + reach) * scale))
        y0 = max(0, int((strip[:, 1].min() - reach) * scale))
        y1 = min(height, math.ceil((strip[:, 1].max() + reach) * scale))
        if not warped:  # an affine map alone: Pillow does it in C
            image = Image.fromarray(digit).transform(
                (x1 - x0, y1 - y0),
                Image.Transform.AFFINE,
                (
                    a / scale,
                    b / scale,
                    c + (a * x0 + b * y0) / scale,
                    d / scale,
                    e / scale,
                    f + (d * x0 + e * y0) / scale,
                ),
                resample=Image.Resampling.BICUBIC,
            )
            patches.append((y0, y1, x0, x1, np.asarray(image, np.float32)))
            continue
        sx = xs[None, x0:x1] + dx[y0:y1, x0:x1]
        sy = ys[y0:y1, None] + dy[y0:y1, x0:x1]
        fine = Image.fromarray(digit).resize((big, big), Image.Resampling.BICUBIC)
        patch = _sample(
            np.asarray(fine),
            (a * sx + b * sy + c) * _SUPERSAMPLE,
            (d * sx + e * sy + f) * _SUPERSAMPLE,
        )
        patches.append((y0, y1, x0, x1, patch))
    return patches


def render_layers(plan: Plan, scale: int) -> tuple[list[np.ndarray], np.ndarray]:
    """Each digit and the pen line as its own warped (h, w) float32 layer, 0-255."""
    if scale < 1:
        raise ValueError("scale must be at least 1")
    layers = []
    for y0, y1, x0, x1, patch in _digit_patches(plan, scale):
        layer = np.zeros((STRIP_HEIGHT * scale, STRIP_WIDTH * scale), np.float32)
        layer[y0:y1, x0:x1] = patch
        layers.append(layer)
    return layers, _pen(plan, scale)


def _shift_at(plan: Plan, points: np.ndarray) -> np.ndarray:
    """The warp's shift at (k, 2) points."""
    out = np.zeros_like(points)
    for axis in range(2):
        for kx, ky, phase, amplitude in plan.waves[axis]:
            out[:, axis] += amplitude * np.sin(
                kx * points[:, 0] + ky * points[:, 1] + phase
            )
    return out


def _pen(plan: Plan, scale: int) -> np.ndarray:
    """The pen line drawn where the warp shows it, softened like the strokes."""
    size = (STRIP_WIDTH * scale, STRIP_HEIGHT * scale)
    if not plan.lines:
        return np.zeros((size[1], size[0]), np.float32)
    pen = Image.new("L", size, 0)
    draw = ImageDraw.Draw(pen)
    for line in plan.lines:
        points = np.array(line, np.float64)
        # Strip point q shows at the output point p with p + shift(p) = q.
        moved = points.copy()
        for _ in range(3):
            moved = points - _shift_at(plan, moved)
        draw.line(
            [(float(x) * scale, float(y) * scale) for x, y in moved],
            fill=255,
            width=max(1, round(plan.line_width * scale)),
            joint="curve",
        )
    if scale > 1:
        pen = pen.filter(ImageFilter.BoxBlur(0.35 * scale))
    return np.array(pen, np.float32)  # writable: render() draws into it


def render(plan: Plan, scale: int) -> np.ndarray:
    """The hardened strip, white on black, (28 * scale, 112 * scale) uint8."""
    if scale < 1:
        raise ValueError("scale must be at least 1")
    strip = _pen(plan, scale)
    for y0, y1, x0, x1, patch in _digit_patches(plan, scale):
        # Ink over ink, as a pen would.
        np.maximum(strip[y0:y1, x0:x1], patch, out=strip[y0:y1, x0:x1])
    return (strip + 0.5).astype(np.uint8)
