"""Digit images to PNG bytes, with Pillow and in memory (no pyplot)."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from gancaptcha_field import constants
from gancaptcha_field.conf import conf
from gancaptcha_field.stores import Rendered
from gancaptcha_field.supply.answers import check_answer


def compose_png(digits: np.ndarray, scale: int) -> bytes:
    """Lay white-on-black digits (n, 28, 28) side by side, dark on light, as a PNG."""
    if not isinstance(digits, np.ndarray) or digits.dtype != np.uint8:
        raise ValueError("digits must be a uint8 numpy array")
    size = constants.IMAGE_SIZE
    if digits.ndim != 3 or digits.shape[0] < 1 or digits.shape[1:] != (size, size):
        raise ValueError(f"digits must have shape (n, {size}, {size})")
    if scale < 1:
        raise ValueError("scale must be at least 1")
    # (n, h, w) -> (h, n * w): one equal cell per digit, in order.
    strip = np.concatenate(list(digits), axis=1)
    image = Image.fromarray(255 - strip)  # 2-D uint8: mode "L"
    if scale > 1:
        image = image.resize(
            (image.width * scale, image.height * scale), Image.Resampling.LANCZOS
        )
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def render_answers(answers: list[str]) -> list[Rendered]:
    """Draw the digits of all answers in one call and make both PNGs of each."""
    for answer in answers:
        check_answer(answer)
    if not answers:
        return []
    # Here, not at the top: importing render must not load the models.
    from gancaptcha_field.supply import registry

    labels = [int(c) for answer in answers for c in answer]
    digits = registry.get_registry().draw(labels)
    scale = conf.IMAGE_SCALE
    n = constants.ANSWER_LENGTH
    return [
        Rendered(
            answer=answer,
            png=compose_png(digits[i * n : (i + 1) * n], scale),
            png_2x=compose_png(digits[i * n : (i + 1) * n], 2 * scale),
        )
        for i, answer in enumerate(answers)
    ]
