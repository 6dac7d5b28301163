"""The hardening step: fixed size, no ink lost, one geometry at 1x and 2x."""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from django.test import override_settings

from gancaptcha_field.conf import conf
from gancaptcha_field.supply import harden, render

MNIST = Path(__file__).resolve().parent.parent / "ml_models" / "data" / "mnist.npz"
SEEDS = range(12)


@pytest.fixture(scope="module")
def mnist_digits() -> np.ndarray:
    """Real handwritten digits, white on black uint8, as the GAN draws them."""
    with np.load(MNIST) as data:
        return data["x_test"][: 4 * len(SEEDS)].copy()


def groups(digits: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
    for seed in SEEDS:
        yield seed, digits[4 * seed : 4 * seed + 4]


def decode(png: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(png)) as image:
        assert image.format == "PNG" and image.mode == "L"
        return np.asarray(image)


def label_components(mask: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Boxes (x0, y0, x1, y1) of the 8-connected components of a mask."""
    seen = np.zeros_like(mask, bool)
    boxes = []
    for y0, x0 in zip(*np.nonzero(mask), strict=True):
        if seen[y0, x0]:
            continue
        seen[y0, x0] = True
        stack, ys, xs = [(y0, x0)], [], []
        while stack:
            y, x = stack.pop()
            ys.append(y)
            xs.append(x)
            for ny in range(max(0, y - 1), min(mask.shape[0], y + 2)):
                for nx in range(max(0, x - 1), min(mask.shape[1], x + 2)):
                    if mask[ny, nx] and not seen[ny, nx]:
                        seen[ny, nx] = True
                        stack.append((ny, nx))
        boxes.append((min(xs), min(ys), max(xs) + 1, max(ys) + 1))
    return boxes


def digit_sized(strip: np.ndarray) -> list[tuple[int, int, int, int]]:
    """A threshold's components big enough to be a digit (20 px of box or more)."""
    boxes = label_components(strip >= 128)
    return [box for box in boxes if (box[2] - box[0]) * (box[3] - box[1]) >= 20]


# Both layouts: the crossing one (Pillow's affine path) and the mild one (a
# pen line and the warp, the numpy path).
LAYOUTS = pytest.mark.parametrize(
    "design", [harden.LAYOUT, harden.MILD], ids=["crossing", "mild"]
)


@LAYOUTS
@pytest.mark.parametrize("scale", [1, 2, 3])
def test_every_draw_has_the_same_size_and_range(
    mnist_digits: np.ndarray, scale: int, design: harden.Design
) -> None:
    for seed, digits in groups(mnist_digits):
        plan = harden.plan(digits, np.random.default_rng(seed), design)
        strip = harden.render(plan, scale)
        assert strip.shape == (28 * scale, 112 * scale)
        assert strip.dtype == np.uint8
        # White on black with full-strength ink, and a dark border (light once
        # inverted) all round: no stroke reaches the edge.
        assert strip.max() == 255
        assert strip[0].max() == strip[-1].max() == 0
        assert strip[:, 0].max() == strip[:, -1].max() == 0


def test_pngs_are_dark_on_light_and_the_same_size_for_every_challenge(
    mnist_digits: np.ndarray,
) -> None:
    sizes = set()
    for seed, digits in groups(mnist_digits):
        png, png_2x = render.hardened_pngs(digits, 2, np.random.default_rng(seed))
        low, high = decode(png), decode(png_2x)
        sizes.add((low.shape, high.shape))
        # Mostly light paper, with black ink on it.
        assert np.median(low) == 255 and low.min() < 40
        assert np.median(high) == 255 and high.min() < 40
    assert sizes == {((56, 224), (112, 448))}


@LAYOUTS
def test_every_digit_keeps_all_its_ink(
    mnist_digits: np.ndarray, design: harden.Design
) -> None:
    """No stroke is cropped: each digit's ink, reshaped, is all in the strip."""
    scale = 2
    for seed, digits in groups(mnist_digits):
        plan = harden.plan(digits, np.random.default_rng(seed), design)
        # Each digit is drawn in a patch whose rim is empty (under one grey
        # level, which rounds to nothing): nothing was cut off.
        for y0, y1, x0, x1, patch in harden._digit_patches(plan, scale):
            assert max(patch[0].max(), patch[-1].max()) < 1.0
            assert max(patch[:, 0].max(), patch[:, -1].max()) < 1.0
            assert 0 <= y0 < y1 <= 28 * scale and 0 <= x0 < x1 <= 112 * scale
        unwarped = dataclasses.replace(plan, waves=plan.waves * [1, 1, 1, 0])
        layers, pen = harden.render_layers(plan, scale)
        flat_layers, _ = harden.render_layers(unwarped, scale)
        strip = harden.render(plan, scale).astype(np.float32)
        for digit, layer, flat, affine in zip(
            digits, layers, flat_layers, plan.inverse_affines, strict=True
        ):
            a, b, _, d, e, _ = affine
            area = scale * scale / abs(a * e - b * d)  # output pixels per source one
            expected = digit.astype(np.float64).sum() * area
            # All the ink is there (resampling adds a little grey at the edges).
            assert expected * 0.97 <= flat.sum() <= expected * 1.15
            # The elastic warp stretches some strokes and squeezes others.
            assert 0.8 <= layer.sum() / flat.sum() <= 1.2
            # Overlap only adds ink: wherever this digit is ink, so is the strip.
            assert (strip >= layer - 1.0).all()
        assert (strip >= pen - 1.0).all()


def test_a_fixed_seed_gives_the_same_pngs(mnist_digits: np.ndarray) -> None:
    digits = mnist_digits[:4]
    first = render.hardened_pngs(digits, 2, np.random.default_rng(7))
    second = render.hardened_pngs(digits, 2, np.random.default_rng(7))
    other = render.hardened_pngs(digits, 2, np.random.default_rng(8))
    assert first == second
    assert first[0] != other[0]


@LAYOUTS
def test_1x_and_2x_share_their_geometry(
    mnist_digits: np.ndarray, design: harden.Design
) -> None:
    for seed, digits in groups(mnist_digits):
        plan = harden.plan(digits, np.random.default_rng(seed), design)
        low, high = render.hardened_strips(plan, 2)
        # The 2x strip is the 1x one upscaled: reduced again, it is the 1x
        # picture, but for a little Lanczos ringing at stroke edges.
        reduced = np.asarray(Image.fromarray(high).reduce(2)).astype(int)
        assert np.abs(reduced - low.astype(int)).mean() < 1.5
        assert np.abs(reduced - low.astype(int)).max() <= 32
        # Rendered natively at twice the scale, the plan gives the same picture.
        native = 255 - harden.render(plan, 4).astype(int)
        assert np.abs(native - high.astype(int)).mean() < 4.0
        # Each digit sits at the same place at both scales.
        for small, large in zip(
            harden.render_layers(plan, 1)[0],
            harden.render_layers(plan, 2)[0],
            strict=True,
        ):
            for axis in (0, 1):
                mass_small = small.sum(axis=1 - axis)
                mass_large = large.sum(axis=1 - axis)
                at_small = (mass_small * (np.arange(mass_small.size) + 0.5)).sum()
                at_large = (mass_large * (np.arange(mass_large.size) + 0.5)).sum()
                centre_small = at_small / mass_small.sum()
                centre_large = at_large / mass_large.sum() / 2
                assert centre_small == pytest.approx(centre_large, abs=0.15)


def test_digits_stay_in_order_and_do_not_sit_in_equal_cells(
    mnist_digits: np.ndarray,
) -> None:
    offsets_from_cells = []
    for seed, digits in groups(mnist_digits):
        plan = harden.plan(digits, np.random.default_rng(seed))
        layers, _ = harden.render_layers(plan, 1)
        centres = [
            float((layer.sum(axis=0) * np.arange(112)).sum() / layer.sum())
            for layer in layers
        ]
        assert centres == sorted(centres)
        offsets_from_cells.append(
            max(abs(c - (14 + 28 * i)) for i, c in enumerate(centres))
        )
    # Some challenge puts a digit far from the middle of its quarter.
    assert max(offsets_from_cells) > 10


def test_crossing_neighbours_leave_connected_components_short_of_four(
    mnist_digits: np.ndarray,
) -> None:
    """The crossing layout crosses neighbours' strokes: after a threshold, most
    challenges hold fewer than four digit-sized components to cut at."""
    short = 0
    for seed, digits in groups(mnist_digits):
        strip = harden.render(harden.plan(digits, np.random.default_rng(seed)), 1)
        short += len(digit_sized(strip)) < 4
    assert short >= 0.75 * len(SEEDS)
    # Kept apart as the mild layout keeps them, the same digits are four.
    apart = harden.Design(lines=0, warp_amplitude=0.0)
    for seed, digits in groups(mnist_digits):
        strip = harden.render(
            harden.plan(digits, np.random.default_rng(seed), apart), 1
        )
        assert len(digit_sized(strip)) >= 4


def test_the_mild_layouts_pen_line_joins_all_digits(mnist_digits: np.ndarray) -> None:
    """The pen line joins everything, so no component is one digit."""
    digits = mnist_digits[12:16]
    plan = harden.plan(digits, np.random.default_rng(3), harden.MILD)
    assert len(digit_sized(harden.render(plan, 1))) == 1
    # It is the pen that joins them: without it, a gap people can see keeps
    # each digit apart (the layout leaves the cutting to the pen line).
    bare = harden.render(dataclasses.replace(plan, lines=()), 1)
    assert len(digit_sized(bare)) >= 4


def test_the_crossing_layout_has_the_parameters_the_panel_read() -> None:
    """docs/panel/hardened*/manifest.json record the layout the panel read
    (the renderer has since kept a pixel more margin: harden.FRINGE)."""
    import json

    root = Path(__file__).resolve().parent.parent / "docs" / "panel"
    for name in ("hardened", "hardened-2"):
        manifest = json.loads((root / name / "manifest.json").read_text())
        assert manifest["layout"] == json.loads(
            json.dumps(dataclasses.asdict(harden.LAYOUT))
        )


def test_bad_digits_are_refused() -> None:
    rng = np.random.default_rng(0)
    for bad in (
        np.zeros((4, 28, 28), np.float32),
        np.zeros((4, 28), np.uint8),
        np.zeros((0, 28, 28), np.uint8),
    ):
        with pytest.raises(ValueError):
            harden.plan(bad, rng)
    with pytest.raises(ValueError):
        harden.render(harden.plan(np.zeros((4, 28, 28), np.uint8), rng), 0)


def test_blank_and_wide_digits_still_fit() -> None:
    """Degenerate input keeps the fixed size and every stroke in the strip."""
    wide = np.zeros((4, 28, 28), np.uint8)
    wide[:, 4:24, 1:27] = 255  # blocks far wider than any digit
    for seed in SEEDS:
        strip = harden.render(harden.plan(wide, np.random.default_rng(seed)), 1)
        assert strip.shape == (28, 112)
        assert strip[:, 0].max() == strip[:, -1].max() == 0
    blank = harden.render(
        harden.plan(np.zeros((4, 28, 28), np.uint8), np.random.default_rng(0)), 1
    )
    assert blank.shape == (28, 112)


def test_new_rng_draws_differ() -> None:
    assert harden.new_rng().integers(1 << 62) != harden.new_rng().integers(1 << 62)


def test_harden_setting_is_strict(settings: object) -> None:
    assert conf.HARDEN is False  # opt-in
    with override_settings(GANCAPTCHA_HARDEN=True):
        assert conf.HARDEN is True
    for bad in ("True", 1, "on", None):
        with override_settings(GANCAPTCHA_HARDEN=bad):
            assert conf.HARDEN is False  # never true; check E020 names it
            assert any("GANCAPTCHA_HARDEN" in line for line in conf.problems())


def test_served_strips_follow_the_setting(mnist_digits: np.ndarray) -> None:
    digits = mnist_digits[:8]
    with override_settings(GANCAPTCHA_HARDEN=False):
        clean = render.served_strips(digits)
    plain = np.concatenate(list(digits[:4]), axis=1)
    assert clean.shape == (2, 28, 112)
    assert (clean[0] == 255 - plain).all()
    with override_settings(GANCAPTCHA_HARDEN=True):
        hardened = render.served_strips(digits)
    assert hardened.shape == (2, 28, 112)
    assert not (hardened[0] == 255 - plain).all()
    with pytest.raises(ValueError):
        render.served_strips(digits[:5])


def test_an_unwarped_plan_is_drawn_at_the_same_place_by_pillow(
    mnist_digits: np.ndarray,
) -> None:
    """Without a warp Pillow's affine path draws; it must match the numpy path."""
    plan = harden.plan(mnist_digits[:4], np.random.default_rng(5), harden.MILD)
    flat = dataclasses.replace(plan, waves=plan.waves * [1, 1, 1, 0])
    almost = dataclasses.replace(plan, waves=plan.waves * [1, 1, 1, 1e-9])
    for scale in (1, 2):
        pillow = harden.render(flat, scale).astype(int)
        numpy_path = harden.render(almost, scale).astype(int)
        # Two resamplers differ a little at stroke edges, never in place.
        assert np.abs(pillow - numpy_path).mean() < 3.0
