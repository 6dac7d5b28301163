"""Digit images to PNG bytes, with Pillow and in memory (no pyplot)."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from gancaptcha_field import constants


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
