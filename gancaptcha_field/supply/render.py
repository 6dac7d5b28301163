"""Internal. Digit images to PNG bytes, with Pillow and in memory (no pyplot).

With GANCAPTCHA_HARDEN on (opt-in; off by default) the checked digits go through
``supply.harden`` first: one geometry per challenge, drawn once at the 1x
PNG's scale and upscaled for the 2x PNG, so both images are one picture.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from gancaptcha_field import constants
from gancaptcha_field.conf import conf
from gancaptcha_field.stores import Rendered
from gancaptcha_field.supply import harden, trap
from gancaptcha_field.supply.answers import check_answer

# zlib level of every PNG: on these strips level 6 (Pillow's default) costs
# 1.6x level 3's time at 2x scale for 7% fewer bytes (1.83 against 1.25 ms
# per challenge, both PNGs, measured on MNIST strips on the 2-core machine).
PNG_COMPRESS_LEVEL = 3

# Answers drawn per call of the digit supply, which holds its lock for the
# call: a pool refill of a whole batch held it through several generator
# passes, and a visitor drawing on the spot in the same process waited for
# all of them (the demo's p99 with an empty pool).
DRAW_CHUNK = 4


def compose_png(digits: np.ndarray, scale: int) -> bytes:
    """Lay white-on-black digits (n, 28, 28) side by side, dark on light, as a PNG."""
    return _png(Image.fromarray(plain_strip(digits, scale)))


def plain_strip(digits: np.ndarray, scale: int) -> np.ndarray:
    """The unhardened strip: one equal cell per digit, dark on light, uint8."""
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
    return np.asarray(image)


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
    return buffer.getvalue()


def hardened_strips(plan: harden.Plan, scale: int) -> tuple[np.ndarray, np.ndarray]:
    """The served strips of one plan, dark on light: (1x, 2x) uint8 arrays.

    The 1x strip is drawn at ``scale`` from the plan's geometry; the 2x strip
    is that picture upscaled (Lanczos), so both show exactly the same thing.
    Drawing the warp at 2x natively cost twice as much for no detail the
    28-pixel digits have; the 2x is still sharper than the old one (upscaled
    from the bare 28-pixel digits).
    """
    if scale < 1:
        raise ValueError("scale must be at least 1")
    low = Image.fromarray(255 - harden.render(plan, scale))
    high = low.resize((low.width * 2, low.height * 2), Image.Resampling.LANCZOS)
    return np.asarray(low), np.asarray(high)


def hardened_pngs(
    digits: np.ndarray, scale: int, rng: np.random.Generator | None = None
) -> tuple[bytes, bytes]:
    """Harden one challenge's checked digits and make its 1x and 2x PNGs."""
    plan = harden.plan(digits, rng if rng is not None else harden.new_rng())
    return _pngs(hardened_strips(plan, scale))


def _pngs(strips: tuple[np.ndarray, np.ndarray]) -> tuple[bytes, bytes]:
    """The 1x and 2x strips as PNGs."""
    low, high = strips
    return _png(Image.fromarray(low)), _png(Image.fromarray(high))


def served_strips(
    digits: np.ndarray, scale: int = 1, hardened: bool | None = None
) -> np.ndarray:
    """Challenges of 4 digits each, as served (1x, dark on light): (m, h, w) uint8.

    For ``captcha_sample`` and the lab: the pixels of the PNG a visitor gets,
    hardened when GANCAPTCHA_HARDEN is on (or ``hardened`` says so).
    """
    n = constants.ANSWER_LENGTH
    if digits.ndim != 3 or len(digits) % n:
        raise ValueError(f"digits must be (k * {n}, 28, 28)")
    if scale < 1:
        raise ValueError("scale must be at least 1")
    on = conf.HARDEN if hardened is None else hardened
    if len(digits) == 0:
        height = constants.IMAGE_SIZE * scale
        return np.zeros((0, height, height * n), np.uint8)
    out = []
    for start in range(0, len(digits), n):
        group = digits[start : start + n]
        if on:
            out.append(hardened_strips(harden.plan(group, harden.new_rng()), scale)[0])
        else:
            out.append(plain_strip(group, scale))
    return np.stack(out)


def render_answers(answers: list[str]) -> list[Rendered]:
    """Draw the digits of all answers in one call and make both PNGs of each."""
    for answer in answers:
        check_answer(answer)
    if not answers:
        return []
    # Here, not at the top: importing render must not load the models.
    from gancaptcha_field.supply import registry

    supply = registry.get_registry()
    digits = np.concatenate(
        [
            supply.draw([int(c) for answer in chunk for c in answer])
            for chunk in (
                answers[i : i + DRAW_CHUNK] for i in range(0, len(answers), DRAW_CHUNK)
            )
        ]
    )
    scale = conf.IMAGE_SCALE
    n = constants.ANSWER_LENGTH
    groups = [digits[i * n : (i + 1) * n] for i in range(len(answers))]
    strips = [
        hardened_strips(harden.plan(group, harden.new_rng()), scale)
        if conf.HARDEN
        else (plain_strip(group, scale), plain_strip(group, 2 * scale))
        for group in groups
    ]
    # The trap reads the 1x strip exactly as served.
    baits = trap.baits([low for low, _ in strips], answers) if conf.TRAP else None
    return [
        Rendered(answer, *_pngs(pair), baits=baits[i] if baits is not None else ())
        for i, (answer, pair) in enumerate(zip(answers, strips, strict=True))
    ]
