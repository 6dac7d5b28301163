"""Internal. Harden checked digits against stock solvers, keeping every label as people
read it.

The step between check and render. ``plan()`` draws the geometry of one
challenge from its own generator, within the ranges of a ``Design``: each
digit reshaped (width, height, rotation, shear, its own baseline), neighbours
kerned row by row to a chosen ink distance (negative: their strokes cross),
the group at a random place, optional pen lines through all of them and an
optional smooth elastic warp of the whole strip. ``render()`` draws that
geometry at any scale. Nothing is cropped: every stroke of every digit stays
in the strip. numpy and Pillow only; nothing here imports TensorFlow.

LAYOUT (crossing neighbours, upright, no line, no warp) is what
GANCAPTCHA_HARDEN draws, chosen with the blind reading panel and the dev
attackers; MILD is the first hardened layout. docs/panel.md has what each
design costs and buys.
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


@dataclass(frozen=True)
class Design:
    """The ranges one hardened challenge's geometry is drawn from."""

    # Per digit: horizontal and vertical scale.
    x_scale: tuple[float, float] = (0.8, 1.2)
    y_scale: tuple[float, float] = (1.0, 1.12)
    # Rotation, degrees: its size is drawn from this range, its sign at random.
    rotation_deg: tuple[float, float] = (0.0, 9.0)
    max_shear: float = 0.12  # about 7 degrees
    baseline_jitter: float = 2.0  # pixels up or down from the middle
    # Ink-to-ink distance of neighbours where they come closest (negative:
    # their strokes cross). A narrow one (a 1) keeps its own range, or it
    # reads as part of its neighbour (13 as B).
    ink_gap: tuple[float, float] = (1.5, 2.5)
    narrow_gap: tuple[float, float] = (2.0, 3.0)
    max_box_overlap: float = 0.3  # of the narrower digit's width
    lines: int = 1  # pen lines through all the digits
    # The pen line: a little thinner than the strokes, so people tell it
    # apart, but 2 px, which a 3x3 median keeps (1.3-1.6 px lines fell to it).
    line_width: tuple[float, float] = (1.8, 2.2)
    line_band: tuple[float, float] = (0.3, 0.7)  # parts of the digits' height
    warp_amplitude: float = 1.2  # pixels: the elastic warp's largest shift


# The first hardened layout (until 2026-12): a pen line through slanted
# digits kept apart, and a warp. The blind reading panel read 88.7% of it.
MILD = Design()
# What GANCAPTCHA_HARDEN draws: neighbours' strokes cross, upright, no pen
# line and no warp. Crossing ink defeats the usual cuts (components,
# projections) as the pen line did, at the same cost to readers: the panel's
# confirmation panels read 89.3% and 87.3% (docs/panel.md), and the lab's
# stock solvers read 21-30%, against 27.5-47.5% of MILD. Steeper slants, pen lines over
# crossing digits, deeper crossing and the warp all read worse.
LAYOUT = Design(
    x_scale=(0.9, 1.1),
    rotation_deg=(0.0, 4.0),
    max_shear=0.04,
    ink_gap=(-3.0, -1.0),
    narrow_gap=(0.0, 1.5),
    max_box_overlap=0.5,
    lines=0,
    warp_amplitude=0.0,
)

NARROW = 8.0  # pixels: a digit narrower than this is narrow
EDGE_MARGIN = 1.5  # pixels of light border kept around all ink
FRINGE = 1.0  # pixels: the resampling's faint grey beyond a stroke
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


def _shape_matrix(
    rng: np.random.Generator, narrow: float, design: Design
) -> np.ndarray:
    """A 2x2 map: horizontal and vertical scale, shear, then a small rotation."""
    sx = rng.uniform(*design.x_scale) * narrow
    sy = rng.uniform(*design.y_scale)
    shear = rng.uniform(-design.max_shear, design.max_shear)
    low, high = design.rotation_deg
    if low <= 0.0:
        degrees = rng.uniform(-high, high)
    else:  # at least ``low`` either way
        degrees = rng.uniform(low, high) * (1 if rng.random() < 0.5 else -1)
    angle = math.radians(degrees)
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
    max_box_overlap: float,
) -> float:
    """How far right of ``left``'s box edge to put ``right``'s (both at x = 0).

    Each argument is (row left edges, row right edges, width) of a digit. The
    inks come within ``gap`` pixels of each other on the row where they come
    closest, but the boxes never overlap by more than ``max_box_overlap`` of the
    narrower width, so no digit hides in another.
    """
    closest = left[1] - right[0]
    shared = np.isfinite(closest)
    touch = float(closest[shared].max()) if shared.any() else left[2]
    return max(touch + gap, left[2] - max_box_overlap * min(left[2], right[2]))


def plan(
    digits: np.ndarray, rng: np.random.Generator, design: Design | None = None
) -> Plan:
    """Draw the geometry of one hardened challenge for (n, 28, 28) uint8 digits.

    ``design`` defaults to LAYOUT, read at call time.
    """
    design = LAYOUT if design is None else design
    if not isinstance(digits, np.ndarray) or digits.dtype != np.uint8:
        raise ValueError("digits must be a uint8 numpy array")
    size = constants.IMAGE_SIZE
    if digits.ndim != 3 or digits.shape[0] < 1 or digits.shape[1:] != (size, size):
        raise ValueError(f"digits must have shape (n, {size}, {size})")
    # The warp may push ink outwards, and bicubic resampling adds a faint
    # fringe of about a pixel around every stroke.
    border = EDGE_MARGIN + design.warp_amplitude + FRINGE
    room = STRIP_WIDTH - 2 * border
    clouds = [_ink_points(digit) for digit in digits]
    centres = [cloud.mean(axis=0) for cloud in clouds]
    for attempt in range(8):
        # Narrower widths on later attempts, so a wide draw always fits.
        narrow = 1.0 - 0.06 * attempt
        matrices, shapes = [], []
        for cloud, centre in zip(clouds, centres, strict=True):
            matrix = _shape_matrix(rng, narrow, design)
            shape = (cloud - centre) @ matrix.T
            # Its own baseline, with every stroke kept inside the strip.
            low, high = shape[:, 1].min() - 0.5, shape[:, 1].max() + 0.5
            slack = max(0.0, (STRIP_HEIGHT - 2 * border - (high - low)) / 2)
            jitter = rng.uniform(-1, 1) * design.baseline_jitter
            jitter = min(max(jitter, -slack), slack)
            shape[:, 1] += STRIP_HEIGHT / 2 + jitter - (low + high) / 2
            shape[:, 0] -= shape[:, 0].min() - 0.5  # box's left edge at x = 0
            matrices.append(matrix)
            shapes.append(shape)
        edges = [(*_row_edges(s), float(s[:, 0].max()) + 0.5) for s in shapes]
        offsets = [0.0]
        for i in range(1, len(shapes)):
            narrow_pair = min(edges[i - 1][2], edges[i][2]) < NARROW
            gap = rng.uniform(*(design.narrow_gap if narrow_pair else design.ink_gap))
            step = _kern(edges[i - 1], edges[i], gap, design.max_box_overlap)
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
    # The pen's round ends stay inside too.
    reach = border + max(design.line_width) / 2
    lines = _pen_lines(
        rng,
        max(reach, start - 2.0),
        min(STRIP_WIDTH - reach, start + right + 2.0),
        lows,
        highs,
        design,
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
                design.warp_amplitude / WARP_WAVES,
            )
    return Plan(
        digits=digits.copy(),
        inverse_affines=tuple(inverse_affines),
        lines=lines,
        line_width=float(rng.uniform(*design.line_width)),
        waves=waves,
    )


def _pen_lines(
    rng: np.random.Generator,
    x0: float,
    x1: float,
    lows: list[float],
    highs: list[float],
    design: Design,
) -> tuple[tuple[tuple[float, float], ...], ...]:
    """Gently waving lines from x0 to x1, kept in the middle band of the digits.

    The middle, not the top or the foot: a bar across the top of a 1 could make
    it a 7, one along the foot of a 7 a 2; through the middle it is a strike.
    """
    top, bottom = max(lows), min(highs)
    if bottom - top < 6.0:  # digits at very different heights: use the strip's
        top, bottom = STRIP_HEIGHT * 0.3, STRIP_HEIGHT * 0.7
    low = top + design.line_band[0] * (bottom - top)
    high = top + design.line_band[1] * (bottom - top)
    xs = np.linspace(x0, x1, 31)
    lines = []
    for _ in range(design.lines):
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
    # The warp's largest shift, and room for the bicubic kernel's reach (two
    # source pixels, each up to 1.25 strip pixels wide at the widest scale).
    reach = float(np.abs(plan.waves[..., 3]).sum(axis=1).max()) + 3.0
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
