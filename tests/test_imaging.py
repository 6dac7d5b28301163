from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from gancaptcha_field.supply.render import compose_png


def decode(png: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(png)) as image:
        assert image.format == "PNG"
        assert image.mode == "L"
        return np.asarray(image)


@pytest.mark.parametrize("scale", [1, 2, 3])
def test_size_is_four_equal_upscaled_cells(scale: int) -> None:
    pixels = decode(compose_png(np.zeros((4, 28, 28), np.uint8), scale))
    assert pixels.shape == (28 * scale, 4 * 28 * scale)


def test_blank_digits_give_a_light_background() -> None:
    pixels = decode(compose_png(np.zeros((4, 28, 28), np.uint8), 2))
    assert (pixels == 255).all()


@pytest.mark.parametrize("inked", [0, 1, 2, 3])
def test_each_digit_lands_dark_in_its_own_cell(inked: int) -> None:
    digits = np.zeros((4, 28, 28), np.uint8)
    digits[inked, 8:20, 8:20] = 255  # a white square, as MNIST draws strokes
    scale = 2
    pixels = decode(compose_png(digits, scale))
    cell = 28 * scale
    means = [pixels[:, i * cell : (i + 1) * cell].mean() for i in range(4)]
    assert means[inked] < 230
    assert all(m == 255 for i, m in enumerate(means) if i != inked)
    # The square itself is dark, not just darker.
    assert pixels[14 * scale, inked * cell + 14 * scale] == 0


def test_other_digit_counts_keep_equal_cells() -> None:
    pixels = decode(compose_png(np.zeros((6, 28, 28), np.uint8), 1))
    assert pixels.shape == (28, 6 * 28)


@pytest.mark.parametrize(
    ("digits", "scale"),
    [
        (np.zeros((4, 28, 28), np.float32), 2),
        (np.zeros((4, 28), np.uint8), 2),
        (np.zeros((4, 32, 32), np.uint8), 2),
        (np.zeros((0, 28, 28), np.uint8), 2),
        (np.zeros((4, 28, 28), np.uint8), 0),
    ],
)
def test_bad_input_is_refused(digits: np.ndarray, scale: int) -> None:
    with pytest.raises(ValueError):
        compose_png(digits, scale)


@pytest.mark.usefixtures("captcha_models")
@pytest.mark.parametrize("hardened", [True, False])
def test_served_pngs_have_one_size_and_one_picture(
    settings: object, hardened: bool
) -> None:
    from django.test import override_settings

    from gancaptcha_field.conf import conf
    from gancaptcha_field.supply import render

    with override_settings(GANCAPTCHA_HARDEN=hardened):
        rendered = render.render_answers(["0123", "9876"])
    scale = conf.IMAGE_SCALE
    for item in rendered:
        low, high = decode(item.png), decode(item.png_2x)
        # The size never depends on the digits: it says nothing about them.
        assert low.shape == (28 * scale, 112 * scale)
        assert high.shape == (56 * scale, 224 * scale)
        assert np.median(low) == 255 and low.min() < 60
        if hardened:
            # The 2x image is the 1x picture upscaled: one geometry.
            reduced = np.asarray(Image.fromarray(high).reduce(2)).astype(int)
            assert np.abs(reduced - low.astype(int)).mean() < 1.5
