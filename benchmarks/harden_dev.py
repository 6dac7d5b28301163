"""Dev attackers for the hardening step: what each design step buys, and its cost.

These are the hardening engineer's own instruments, kept apart from the lab's
(``gancaptcha_lab``): two quick classifiers trained here on public MNIST
(a LeNet and an MLP, seeded, one epoch) and a stock solver that tries every
combination of preprocessing (none / threshold 0.5 / 3x3 median) and
segmentation (equal cells, read raw or MNIST-centred / connected components /
column projections), with MNIST-style centring. The lab's figures, made with
other models, are the ones we publish; these only steered the design.

The attacker knows the layout rules (four digits, left to right) and has the
served 1x PNG; it does not have our models. Digits come from the shipped
generator and are checked by the reader and verifier, as served.

    python -m benchmarks.harden_dev --count 400            # solve rates
    python -m benchmarks.harden_dev --timing-only           # cost per challenge
    python -m benchmarks.harden_dev --trap --count 400      # the trap's rules

Prints one table and writes JSON (``--json``). Not part of the tests.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import math
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageFilter

from benchmarks import bootstrap

BASE_DIR = Path(__file__).resolve().parent.parent
CACHE_DIR = BASE_DIR / "benchmarks" / "results" / "harden_dev"
SEED = 20261129
SIZE = 28
N = 4


# --- the dev classifiers ---------------------------------------------------


def mnist() -> tuple[np.ndarray, np.ndarray]:
    """Public MNIST training images as (n, 28, 28, 1) floats in [0, 1], labels."""
    with np.load(BASE_DIR / "ml_models" / "data" / "mnist.npz") as data:
        return data["x_train"][..., None].astype(np.float32) / 255.0, data["y_train"]


def build(name: str) -> Any:
    """A LeNet-5 or a two-layer MLP (Keras), untrained."""
    import keras
    from keras import layers

    inputs = keras.Input((SIZE, SIZE, 1))
    if name == "lenet":
        x = layers.Conv2D(6, 5, padding="same", activation="relu")(inputs)
        x = layers.MaxPooling2D()(x)
        x = layers.Conv2D(16, 5, activation="relu")(x)
        x = layers.MaxPooling2D()(x)
        x = layers.Flatten()(x)
        x = layers.Dense(120, activation="relu")(x)
        x = layers.Dense(84, activation="relu")(x)
    else:
        x = layers.Flatten()(inputs)
        x = layers.Dense(256, activation="relu")(x)
        x = layers.Dense(128, activation="relu")(x)
    outputs = layers.Dense(10, activation="softmax")(x)
    return keras.Model(inputs, outputs, name=f"dev_{name}")


def dev_classifier(name: str, log: Callable[[str], None]) -> Any:
    """Train once (seeded, one epoch on MNIST) and cache under benchmarks/results."""
    import keras

    path = CACHE_DIR / f"dev_{name}.keras"
    if path.is_file():
        return keras.models.load_model(path, compile=False)
    keras.utils.set_random_seed(SEED)
    x, y = mnist()
    model = build(name)
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    start = time.perf_counter()
    model.fit(x, y, batch_size=128, epochs=1, verbose=0)
    log(f"trained dev {name} in {time.perf_counter() - start:.0f}s")
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save(path)
    return model


# --- the stock solver --------------------------------------------------------


def decode(png: bytes) -> np.ndarray:
    """A challenge PNG to ink in [0, 1] (white on black), 28 pixels high."""
    with Image.open(io.BytesIO(png)) as image:
        grey = image.convert("L")
        scale = grey.height / SIZE
        if scale != 1:
            grey = grey.resize((round(grey.width / scale), SIZE), Image.Resampling.BOX)
    return 1.0 - np.asarray(grey, np.float32) / 255.0


def preprocess(ink: np.ndarray, how: str) -> np.ndarray:
    """none, threshold at 0.5, or a 3x3 median filter."""
    if how == "threshold":
        return (ink > 0.5).astype(np.float32)
    if how == "median":
        image = Image.fromarray((ink * 255).astype(np.uint8))
        return np.asarray(image.filter(ImageFilter.MedianFilter(3)), np.float32) / 255
    return ink


def centre(ink: np.ndarray) -> np.ndarray:
    """MNIST-style: the ink's box fit into 20x20, centred by mass in 28x28."""
    out = np.zeros((SIZE, SIZE), np.float32)
    rows = np.flatnonzero(ink.max(axis=1) > 0.1)
    cols = np.flatnonzero(ink.max(axis=0) > 0.1)
    if rows.size == 0 or cols.size == 0:
        return out
    crop = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    h, w = crop.shape
    factor = 20.0 / max(h, w)
    nh, nw = max(1, round(h * factor)), max(1, round(w * factor))
    image = Image.fromarray((crop * 255).astype(np.uint8))
    small = np.asarray(image.resize((nw, nh), Image.Resampling.LANCZOS), np.float32)
    small /= 255.0
    total = small.sum()
    if total <= 0:
        return out
    cy = (small.sum(axis=1) * np.arange(nh)).sum() / total
    cx = (small.sum(axis=0) * np.arange(nw)).sum() / total
    top = round(SIZE / 2 - cy - 0.5)
    left = round(SIZE / 2 - cx - 0.5)
    top = min(max(top, 0), SIZE - nh)
    left = min(max(left, 0), SIZE - nw)
    out[top : top + nh, left : left + nw] = small
    return out


def components(mask: np.ndarray) -> list[np.ndarray]:
    """8-connected components of a boolean mask, as boolean masks."""
    seen = np.zeros_like(mask, bool)
    h, w = mask.shape
    found = []
    for y0, x0 in zip(*np.nonzero(mask), strict=True):
        if seen[y0, x0]:
            continue
        stack, pixels = [(y0, x0)], []
        seen[y0, x0] = True
        while stack:
            y, x = stack.pop()
            pixels.append((y, x))
            for dy in (-1, 0, 1):
                for dx in (-1, 0, 1):
                    ny, nx = y + dy, x + dx
                    if (
                        0 <= ny < h
                        and 0 <= nx < w
                        and mask[ny, nx]
                        and not seen[ny, nx]
                    ):
                        seen[ny, nx] = True
                        stack.append((ny, nx))
        part = np.zeros_like(mask, bool)
        ys, xs = zip(*pixels, strict=True)
        part[list(ys), list(xs)] = True
        found.append(part)
    return found


def split_at_valley(part: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cut a mask in two at the emptiest column of its middle half."""
    cols = np.flatnonzero(part.any(axis=0))
    lo, hi = cols[0], cols[-1] + 1
    a, b = lo + (hi - lo) // 4, lo + 3 * (hi - lo) // 4
    profile = part[:, a : max(b, a + 1)].sum(axis=0)
    cut = a + int(np.argmin(profile)) if profile.size else (lo + hi) // 2
    left, right = part.copy(), part.copy()
    left[:, cut:] = False
    right[:, :cut] = False
    return left, right


def segment(ink: np.ndarray, how: str) -> list[np.ndarray]:
    """Four single-digit images (before centring), left to right."""
    w = ink.shape[1]
    if how in ("cells", "cells-raw"):
        return [ink[:, i * w // N : (i + 1) * w // N] for i in range(N)]
    mask = ink > 0.5
    if how == "components":
        parts = [p for p in components(mask) if p.sum() >= 8]
        if not parts:
            return []
        while len(parts) > N:  # fold the smallest into its nearest neighbour
            parts.sort(key=lambda p: p.sum())
            small = parts.pop(0)
            cx = np.nonzero(small)[1].mean()
            near = min(parts, key=lambda p: abs(np.nonzero(p)[1].mean() - cx))
            near |= small
        while len(parts) < N:  # split the widest
            parts.sort(key=lambda p: -np.ptp(np.nonzero(p)[1]))
            parts.extend(split_at_valley(parts.pop(0)))
        parts.sort(key=lambda p: np.nonzero(p)[1].mean())
        return [np.where(p, ink, 0.0) for p in parts]
    # Column projections: three cuts at the emptiest columns near the quarters.
    cols = np.flatnonzero(mask.any(axis=0))
    if cols.size < N:
        return []
    lo, hi = cols[0], cols[-1] + 1
    profile = np.convolve(ink.sum(axis=0), np.ones(3) / 3, mode="same")
    cuts = [lo]
    for k in range(1, N):
        target = lo + k * (hi - lo) / N
        span = max(2, int((hi - lo) / (2.5 * N)))
        a, b = int(target - span), int(target + span) + 1
        cuts.append(a + int(np.argmin(profile[a:b])))
    cuts.append(hi)
    return [ink[:, cuts[i] : cuts[i + 1]] for i in range(N)]


def prepare(ink: np.ndarray, how: str) -> np.ndarray:
    """A segment as the classifier reads it (28x28)."""
    if how == "cells-raw":  # the scraper's way: resize the cell, no centring
        image = Image.fromarray((ink * 255).astype(np.uint8))
        resized = image.resize((SIZE, SIZE), Image.Resampling.BOX)
        return np.asarray(resized, np.float32) / 255.0
    return centre(ink)


PREPROCESSING = ("none", "threshold", "median")
SEGMENTATION = ("cells-raw", "cells", "components", "projections")


def solve_rates(
    pngs: list[bytes], answers: np.ndarray, readers: dict[str, Any]
) -> dict[str, dict[str, float]]:
    """Per reader and combination, the share of challenges solved end to end."""
    inks = [decode(png) for png in pngs]
    rates: dict[str, dict[str, float]] = {name: {} for name in readers}
    for pre in PREPROCESSING:
        cleaned = [preprocess(ink, pre) for ink in inks]
        for seg in SEGMENTATION:
            batch, whole = [], np.zeros(len(inks), bool)
            for index, ink in enumerate(cleaned):
                parts = segment(ink, seg)
                if len(parts) == N:
                    whole[index] = True
                    batch.extend(prepare(p, seg) for p in parts)
                else:
                    batch.extend(np.zeros((SIZE, SIZE), np.float32) for _ in range(N))
            images = np.stack(batch)[..., None]
            for name, model in readers.items():
                guess = model.predict(images, batch_size=512, verbose=0).argmax(axis=1)
                right = (guess.reshape(-1, N) == answers).all(axis=1) & whole
                rates[name][f"{pre}+{seg}"] = float(right.mean())
    return rates


# --- the designs under test ----------------------------------------------------


def _designs() -> dict[str, Any]:
    """Layouts tried for the default (docs/panel.md has what the panel read)."""
    from gancaptcha_field.supply.harden import Design

    slant = {"rotation_deg": (12.0, 28.0)}
    upright = {"rotation_deg": (0.0, 4.0), "max_shear": 0.04, "x_scale": (0.9, 1.1)}
    tall = {"y_scale": (1.1, 1.25)}
    cross = {"ink_gap": (-3.0, -1.0), "narrow_gap": (0.0, 1.5), "max_box_overlap": 0.5}
    deep = {"ink_gap": (-4.0, -2.0), "narrow_gap": (-0.5, 1.0), "max_box_overlap": 0.6}
    touch = {"ink_gap": (-1.0, 0.5), "narrow_gap": (0.5, 1.5), "max_box_overlap": 0.5}
    return {
        "slant": Design(**slant),
        "slant+touch+2 lines": Design(**slant, **touch, lines=2),
        "crossing+slant": Design(**slant, **cross),
        "crossing+slant, no line": Design(**slant, **cross, lines=0),
        "crossing, no line": Design(**cross, lines=0),
        "crossing+tilt 8-20, no line, tall": Design(
            **cross, **tall, lines=0, rotation_deg=(8.0, 20.0)
        ),
        "deep crossing+slant, no line": Design(**deep, **slant, lines=0),
        "deep crossing, no line, tall": Design(**deep, **tall, lines=0),
        "deep crossing+tilt 5-18, no line, tall": Design(
            **deep, **tall, lines=0, rotation_deg=(5.0, 18.0)
        ),
        "crossing, no line, upright": Design(**cross, **upright, lines=0),
        "crossing, no line, upright, no warp": Design(
            **cross, **upright, lines=0, warp_amplitude=0.0
        ),
        "crossing, no line, upright, warp 0.6": Design(
            **cross, **upright, lines=0, warp_amplitude=0.6
        ),
        "crossing, no line, upright, tall": Design(**cross, **upright, **tall, lines=0),
        "deep crossing, no line, upright": Design(**deep, **upright, lines=0),
        "mild, no warp": Design(warp_amplitude=0.0),
        "mild, upright": Design(**upright),
    }


DESIGNS: dict[str, Any] = {}


def variants() -> dict[
    str, Callable[[np.ndarray, np.random.Generator], tuple[bytes, bytes]]
]:
    """Each design step, cumulative, as a function of (digits, rng) -> PNGs."""
    from gancaptcha_field.supply import harden, render

    def today(digits: np.ndarray, rng: np.random.Generator) -> tuple[bytes, bytes]:
        return render.compose_png(digits, 2), render.compose_png(digits, 4)

    def make(
        pen: bool, warp: bool, design: harden.Design = harden.MILD
    ) -> Callable[..., tuple[bytes, bytes]]:
        def draw(digits: np.ndarray, rng: np.random.Generator) -> tuple[bytes, bytes]:
            plan = harden.plan(digits, rng, design)
            plan = dataclasses.replace(
                plan,
                lines=plan.lines if pen else (),
                waves=plan.waves if warp else plan.waves * [1, 1, 1, 0],
            )
            low, high = render.hardened_strips(plan, 2)
            return render._png(Image.fromarray(low)), render._png(Image.fromarray(high))

        return draw

    return {
        "today (equal cells)": today,
        "layout": make(pen=False, warp=False),
        "layout+warp": make(pen=False, warp=True),
        "layout+pen": make(pen=True, warp=False),
        "layout+pen+warp (mild)": make(pen=True, warp=True),
        **{
            name: make(pen=True, warp=True, design=design)
            for name, design in DESIGNS.items()
        },
    }


def served_digits(
    count: int, source: str, log: Callable[[str], None]
) -> tuple[np.ndarray, np.ndarray]:
    """``count`` challenges' worth of digits and their answers.

    ``gan``: checked digits from the shipped generator, as served (slow under
    load); ``mnist``: MNIST test digits, which the dev classifiers never saw.
    """
    from gancaptcha_field.supply import registry

    answers = np.random.default_rng(SEED).integers(0, 10, (count, N))
    if source == "mnist":
        with np.load(BASE_DIR / "ml_models" / "data" / "mnist.npz") as data:
            x, y = data["x_test"], data["y_test"]
        rng = np.random.default_rng(SEED + 2)
        pick = [rng.choice(np.flatnonzero(y == label)) for label in answers.ravel()]
        return x[pick].reshape(count, N, SIZE, SIZE), answers
    reg = registry.get_registry()
    status = reg.load()
    if not status.ok:
        raise SystemExit(f"models unavailable: {status.message}")
    # Seeded, so a rerun draws the same digits (the registry seeds from the OS).
    reg.rng = np.random.default_rng(SEED + 4)
    reg.clear_buckets()
    digits = reg.draw(answers.ravel().tolist())
    log(f"drew {len(digits)} checked digits")
    return digits.reshape(count, N, SIZE, SIZE), answers


def trap_rules(count: int, log: Callable[[str], None]) -> dict[str, Any]:
    """How often the trap springs on the dev attackers' wrong answers, by rule.

    Hardened challenges as served (GANCAPTCHA_HARDEN, drawn by the shipped
    models); baits read by ``supply.trap`` with the reader alone or with the
    verifier too; the rule "all" (every misread digit of a bait repeated) or
    "any" (one is enough, the first shipped rule) or "two" (two misread
    digits of one bait, each in its place: the rule that ships, since people
    stumbled on single digits as the classifiers did). Every dev attacker's
    combination is tried, since bots differ.
    """
    from gancaptcha_field.supply import harden, registry, render, trap

    # As render_answers draws them with GANCAPTCHA_HARDEN, but seeded.
    digits, answers = served_digits(count, "gan", log)
    truth = ["".join(map(str, a)) for a in answers]
    rng = np.random.default_rng(SEED + 3)
    strips = [render.hardened_strips(harden.plan(g, rng), 2)[0] for g in digits]
    pngs = [render._png(Image.fromarray(strip)) for strip in strips]
    cut = np.concatenate([trap.pieces(strip) for strip in strips])
    readings = [
        ["".join(map(str, row)) for row in probs.argmax(axis=1).reshape(count, N)]
        for probs in registry.get_registry().read(cut)
    ]
    bait_sets = {"reader": readings[:1], "reader+verifier": readings}

    def springs_all(answer: str, right: str, bait: str) -> bool:
        wrong = [i for i in range(N) if bait[i] != right[i]]
        return bool(wrong) and all(answer[i] == bait[i] for i in wrong)

    def springs_any(answer: str, right: str, bait: str) -> bool:
        return any(answer[i] == bait[i] != right[i] for i in range(N))

    def springs_two(answer: str, right: str, bait: str) -> bool:
        return sum(answer[i] == bait[i] != right[i] for i in range(N)) >= 2

    rules = {"all": springs_all, "any": springs_any, "two": springs_two}
    readers = {name: dev_classifier(name, log) for name in ("lenet", "mlp")}
    inks = [decode(png) for png in pngs]
    out: dict[str, Any] = {}
    for pre in PREPROCESSING:
        for seg in ("projections", "components"):
            batch = []
            for ink in inks:
                parts = segment(preprocess(ink, pre), seg)
                if len(parts) != N:
                    parts = [np.zeros((SIZE, SIZE), np.float32)] * N
                batch.extend(prepare(p, seg) for p in parts)
            images = np.stack(batch)[..., None]
            for name, model in readers.items():
                guess = model.predict(images, batch_size=512, verbose=0).argmax(1)
                guesses = ["".join(map(str, g)) for g in guess.reshape(count, N)]
                failed = [i for i in range(count) if guesses[i] != truth[i]]
                row = {"solved": 1 - len(failed) / count}
                for set_name, sets in bait_sets.items():
                    for rule_name, rule in rules.items():
                        caught = sum(
                            any(rule(guesses[i], truth[i], b[i]) for b in sets)
                            for i in failed
                        )
                        row[f"{set_name}/{rule_name}"] = caught / max(1, len(failed))
                out[f"{name} {pre}+{seg}"] = row
    return out


def wilson(p: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson 95% interval."""
    if n == 0:
        return 0.0, 1.0
    den = 1 + z * z / n
    mid = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return max(0.0, mid - half), min(1.0, mid + half)


def timing(
    digits: np.ndarray, rounds: int = 6, per_round: int = 20
) -> dict[str, float]:
    """ms per challenge for both PNGs: today's render against harden+render.

    Interleaved in rounds, in this process, so load falls on both alike.
    """
    from gancaptcha_field.supply import render

    def today(group: np.ndarray) -> None:
        render.compose_png(group, 2)
        render.compose_png(group, 4)

    def hardened(group: np.ndarray) -> None:
        render.hardened_pngs(group, 2)

    cases = {"today render": today, "harden+render": hardened}
    times: dict[str, list[float]] = {name: [] for name in cases}
    for number in range(rounds):
        for name, fn in cases.items():
            start = time.perf_counter()
            for i in range(per_round):
                fn(digits[(number * per_round + i) % len(digits)])
            times[name].append((time.perf_counter() - start) / per_round * 1000)
    out = {name: float(np.median(values)) for name, values in times.items()}
    out["ratio"] = out["harden+render"] / out["today render"]
    return out


def contact_sheet(digits: np.ndarray, answers: np.ndarray, path: Path) -> None:
    """Served challenges (hardened, the 1x PNG as served) beside their clean
    digits, numbered; the answers go to a caption file beside the sheet."""
    from PIL import ImageDraw

    from gancaptcha_field.supply import render

    rows = []
    for index, group in enumerate(digits):
        png, _ = render.hardened_pngs(group, 2)
        with Image.open(io.BytesIO(png)) as image:
            served = np.asarray(image.convert("L"))
        clean = 255 - np.concatenate(list(group), axis=1)
        clean = np.asarray(
            Image.fromarray(clean).resize(served.shape[::-1], Image.Resampling.LANCZOS)
        )
        label = Image.new("L", (28, served.shape[0]), 255)
        ImageDraw.Draw(label).text((2, 20), f"{index + 1:2d}", fill=0)
        gap = np.full((served.shape[0], 16), 255, np.uint8)
        rows.append(
            np.concatenate([np.asarray(label), clean, gap, served, gap], axis=1)
        )
    half = (len(rows) + 1) // 2
    left = np.concatenate(rows[:half], axis=0)
    right = np.concatenate(rows[half:], axis=0)
    if right.shape[0] < left.shape[0]:
        pad = np.full((left.shape[0] - right.shape[0], right.shape[1]), 255, np.uint8)
        right = np.concatenate([right, pad], axis=0)
    sheet = np.concatenate([left, np.full((left.shape[0], 8), 160, np.uint8), right], 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(sheet).save(path, optimize=True)
    caption = path.with_suffix(".txt")
    lines = [
        "Served challenges as a visitor sees them (the 1x PNG at the default",
        "GANCAPTCHA_IMAGE_SCALE = 2), each right of its clean digits as drawn and",
        "checked before hardening. Made by: python -m benchmarks.harden_dev "
        f"--sheet {path.name}",
        "",
        *(f"{i + 1:2d}  {''.join(map(str, a))}" for i, a in enumerate(answers)),
    ]
    caption.write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=400, help="Challenges (400).")
    parser.add_argument("--json", type=Path, help="Also write JSON.")
    only = "Only designs whose name contains this."
    parser.add_argument("--only", default="", help=only)
    digits = "gan: checked GAN digits as served (default); mnist: MNIST test."
    parser.add_argument(
        "--digits", choices=("gan", "mnist"), default="gan", help=digits
    )
    for flag, text in (
        ("--timing-only", "Only the cost per challenge."),
        ("--trap", "Only the trap: the share of wrong answers each rule springs on."),
    ):
        parser.add_argument(flag, action="store_true", help=text)
    sheet = "Only write a contact sheet of 40 served challenges (and .txt)."
    parser.add_argument("--sheet", type=Path, help=sheet)
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    def log(message: str) -> None:
        print(f"[harden_dev] {message}", file=sys.stderr, flush=True)

    bootstrap.setup()
    DESIGNS.update(_designs())
    if args.sheet is not None:
        # The drawn digits are kept, so a sheet can be redrawn from the same ones.
        cache = CACHE_DIR / f"sheet_digits_{args.digits}.npz"
        if cache.is_file():
            with np.load(cache) as data:
                digits, answers = data["digits"], data["answers"]
        else:
            digits, answers = served_digits(40, args.digits, log)
            cache.parent.mkdir(parents=True, exist_ok=True)
            np.savez_compressed(cache, digits=digits, answers=answers)
        contact_sheet(digits, answers, args.sheet)
        print(f"wrote {args.sheet} and {args.sheet.with_suffix('.txt')}")
        return 0
    if args.trap:
        rules = trap_rules(args.count, log)
        columns = [k for k in next(iter(rules.values())) if k != "solved"]
        print(f"trapped share of wrong answers, n = {args.count} hardened challenges")
        print(
            f"{'dev attacker':28s} {'solved':>7s} "
            + " ".join(f"{c:>20s}" for c in columns)
        )
        for name, row in rules.items():
            print(
                f"{name:28s} {row['solved']:7.1%} "
                + " ".join(f"{row[c]:20.1%}" for c in columns)
            )
        if args.json:
            args.json.write_text(json.dumps(rules, indent=2))
        return 0
    digits, answers = served_digits(args.count, args.digits, log)
    results: dict[str, Any] = {
        "count": args.count,
        "digits": args.digits,
        "timing": timing(digits),
    }
    t = results["timing"]
    print(
        f"cost per challenge (both PNGs): today {t['today render']:.2f} ms, "
        f"harden+render {t['harden+render']:.2f} ms, ratio {t['ratio']:.2f}"
    )
    if args.timing_only:
        return 0
    readers = {name: dev_classifier(name, log) for name in ("lenet", "mlp")}
    rng = np.random.default_rng(SEED + 1)
    results["variants"] = {}
    print(f"\nchallenges solved end to end, best combination, n = {args.count}")
    print(
        f"{'design':28s} {'reader':6s} {'solved':>7s} {'95% CI':>15s}  best combination"
    )
    for name, draw in variants().items():
        if args.only not in name:
            continue
        pngs = [draw(group, rng)[0] for group in digits]
        rates = solve_rates(pngs, answers, readers)
        results["variants"][name] = rates
        for reader, combos in rates.items():
            best = max(combos, key=combos.__getitem__)
            low, high = wilson(combos[best], args.count)
            print(
                f"{name:28s} {reader:6s} {combos[best]:7.1%} "
                f"[{low:5.1%}, {high:5.1%}]  {best}"
            )
        log(f"{name}: done")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
