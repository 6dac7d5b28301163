"""Internal. Fitting the latent bank: where each label lives in the generator's noise
space.

Draw plain N(0, I) noise through the shipped generator (in ONNX Runtime, as
served: the ModelSet, so no TensorFlow is needed), keep the latents whose
digits pass the serving rule (thresholds, margin, and the reader's label), grow
the rare labels by checked perturbations of what was kept, then choose the
perturbation scale sigma from the reader's and verifier's acceptance alone.
The bank is written beside the models (latents.npz) and named, with its
checksum and these figures, in metadata.json.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gancaptcha_field import artifacts, constants, oracle
from gancaptcha_field.supply import latents as bank_io
from gancaptcha_field.supply.models import ModelSet

# Sigmas tried when choosing the perturbation scale (smaller: likelier to pass,
# less varied).
SIGMA_GRID = (0.15, 0.25, 0.35, 0.5)


@dataclass(frozen=True)
class LatentFitConfig:
    """How many draws to make and how strict the bank's filter is."""

    samples: int = 8192
    per_label: int = 1000
    batch: int = 1024
    seed: int = 7
    reader_threshold: float = constants.DEFAULT_READER_THRESHOLD
    verifier_threshold: float = constants.DEFAULT_VERIFIER_THRESHOLD
    margin: float = constants.DEFAULT_MARGIN
    # The margin a latent needs to enter the bank (at least the serving one):
    # stricter makes neighbours likelier to pass but rare labels slow to grow.
    bank_margin: float = 0.0
    # Serving margins whose cost (acceptance of bank draws) is reported.
    margin_grid: tuple[float, ...] = (0.0, 7.0, 8.0, 9.0, 11.0)
    # Perturbation used to grow thin labels from their own accepted latents.
    grow_sigma: float = 0.25
    # The largest sigma whose worst label still passes this often is chosen.
    min_label_acceptance: float = 0.6
    sigma_grid: tuple[float, ...] = SIGMA_GRID
    measure_per_label: int = 256
    grow_rounds: int = 8


@dataclass
class _Checker:
    models: ModelSet
    batch: int
    reader_threshold: float
    passes: int = 0

    def __call__(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """uint8 digits and both classifiers' probabilities for latents ``z``."""
        digits, rp, vp = [], [], []
        for start in range(0, len(z), self.batch):
            # As in serving: only digits the reader is sure of reach the verifier.
            images, r, v = self.models.infer(
                z[start : start + self.batch].astype(np.float32),
                self.reader_threshold,
            )
            digits.append(oracle.to_uint8(images))
            rp.append(r)
            vp.append(v)
        self.passes += len(z)
        return np.concatenate(digits), np.concatenate(rp), np.concatenate(vp)


def _mean_pairwise_distance(digits: np.ndarray, rng: np.random.Generator) -> float:
    """Mean L2 distance between digits in [0, 1] pixels (a diversity figure)."""
    if len(digits) < 2:
        return float("nan")
    x = digits.reshape(len(digits), -1).astype(np.float64) / 255.0
    a = rng.integers(len(x), size=2000)
    b = rng.integers(len(x), size=2000)
    keep = a != b
    return float(np.linalg.norm(x[a[keep]] - x[b[keep]], axis=1).mean())


def fit_latent_bank(
    models: ModelSet,
    config: LatentFitConfig = LatentFitConfig(),
    log: Callable[[str], None] = lambda _: None,
) -> tuple[bank_io.LatentBank, dict[str, Any]]:
    """Fit a per-label bank for the given models (run as served, in ONNX
    Runtime); returns it with its figures."""
    started = time.monotonic()
    rng = np.random.default_rng(config.seed)
    check = _Checker(models, config.batch, config.reader_threshold)
    thresholds = (config.reader_threshold, config.verifier_threshold)
    bank_margin = max(config.bank_margin, config.margin)
    dim, classes = constants.LATENT_DIM, constants.NUM_CLASSES

    # 1. Plain draws, as served today: what passes, and where it came from.
    kept: dict[int, list[np.ndarray]] = {d: [] for d in range(classes)}
    # A label with no draw past the bank's margin starts from the serving rule.
    fallback: dict[int, list[np.ndarray]] = {d: [] for d in range(classes)}
    plain_digits: dict[int, list[np.ndarray]] = {d: [] for d in range(classes)}
    plain_old = plain_new = 0
    for start in range(0, config.samples, config.batch * 8):
        z = rng.standard_normal((min(config.batch * 8, config.samples - start), dim))
        digits, rp, vp = check(z)
        old = oracle.judge(rp, vp, *thresholds)
        new = oracle.judge(rp, vp, *thresholds, margin=config.margin)
        strict = oracle.judge(rp, vp, *thresholds, margin=bank_margin)
        plain_old += int(old.accepted.sum())
        plain_new += int(new.accepted.sum())
        for d in range(classes):
            kept[d].append(z[strict.accepted & (strict.labels == d)])
            fallback[d].append(z[new.accepted & (new.labels == d)])
            plain_digits[d].append(digits[new.accepted & (new.labels == d)][:200])
        log(f"latents: {start + len(z)}/{config.samples} plain draws checked")
    bank = {
        d: np.concatenate(kept[d] if any(map(len, kept[d])) else fallback[d])
        for d in range(classes)
    }
    from_plain = {d: len(bank[d]) for d in range(classes)}
    empty = [d for d in range(classes) if not len(bank[d])]
    if empty:
        raise ValueError(
            f"no draw of label(s) {empty} passed in {config.samples} samples; "
            "draw more (--samples) or lower the margin"
        )

    # 2. Grow thin labels from their own accepted latents (each one checked).
    for round_ in range(config.grow_rounds):
        thin = [d for d in range(classes) if len(bank[d]) < config.per_label]
        if not thin:
            break
        # Twice what is missing (capped): about half the neighbours pass.
        counts = [
            min(config.batch, 2 * (config.per_label - len(bank[d]))) for d in thin
        ]
        labels = np.repeat(thin, counts)
        seeds = bank_io.LatentBank(
            {d: bank[d] if d in thin else bank[d][:1] for d in range(classes)},
            config.grow_sigma,
        )
        z = seeds.sample(labels, rng)
        _, rp, vp = check(z)
        strict = oracle.judge(rp, vp, *thresholds, margin=bank_margin, expected=labels)
        for d in thin:
            bank[d] = np.concatenate([bank[d], z[strict.accepted & (labels == d)]])
        log(
            f"latents: grow round {round_ + 1}: "
            + ", ".join(f"{d}: {len(z)}" for d, z in bank.items())
        )
    bank = {d: z[rng.permutation(len(z))[: config.per_label]] for d, z in bank.items()}
    # Stored as float16: measure what will be served.
    bank = {d: z.astype(np.float16).astype(np.float32) for d, z in bank.items()}

    # 3. Choose sigma from the serving rule's acceptance (no outside judge).
    labels = np.repeat(np.arange(classes), config.measure_per_label)
    grid: list[dict[str, Any]] = []
    for sigma in config.sigma_grid:
        z = bank_io.LatentBank(bank, sigma).sample(labels, rng)
        digits, rp, vp = check(z)
        verdict = oracle.judge(
            rp, vp, *thresholds, margin=config.margin, expected=labels
        )
        per_label = {
            str(d): float(verdict.accepted[labels == d].mean()) for d in range(classes)
        }
        diversity = {
            str(d): _mean_pairwise_distance(
                digits[verdict.accepted & (labels == d)], rng
            )
            for d in range(classes)
        }
        grid.append(
            {
                "sigma": sigma,
                "acceptance": float(verdict.accepted.mean()),
                "min_label_acceptance": min(per_label.values()),
                "acceptance_per_label": per_label,
                "mean_pairwise_distance": float(np.nanmean(list(diversity.values()))),
            }
        )
        log(f"latents: sigma {sigma}: acceptance {grid[-1]['acceptance']:.3f}")
    good = [g for g in grid if g["min_label_acceptance"] >= config.min_label_acceptance]
    chosen = (
        max(good, key=lambda g: g["sigma"])
        if good
        else min(grid, key=lambda g: g["sigma"])
    )
    # What each serving margin would cost at the chosen sigma.
    z = bank_io.LatentBank(bank, chosen["sigma"]).sample(labels, rng)
    _, rp, vp = check(z)
    margin_grid: list[dict[str, Any]] = []
    for margin in config.margin_grid:
        verdict = oracle.judge(rp, vp, *thresholds, margin=margin, expected=labels)
        per_label = {
            str(d): float(verdict.accepted[labels == d].mean()) for d in range(classes)
        }
        margin_grid.append(
            {
                "margin": margin,
                "acceptance": float(verdict.accepted.mean()),
                "min_label_acceptance": min(per_label.values()),
                "acceptance_per_label": per_label,
            }
        )
    plain_diversity = {
        str(d): _mean_pairwise_distance(np.concatenate(plain_digits[d]), rng)
        for d in range(classes)
    }
    figures = {
        "config": asdict(config),
        "sigma": chosen["sigma"],
        "per_label": config.per_label,
        "from_plain_draws": {str(d): n for d, n in from_plain.items()},
        "plain_acceptance_old_rule": plain_old / config.samples,
        "plain_acceptance_with_margin": plain_new / config.samples,
        "plain_mean_pairwise_distance": float(
            np.nanmean(list(plain_diversity.values()))
        ),
        "sigma_grid": grid,
        "margin_grid": margin_grid,
        "generator_passes": check.passes,
        "seconds": round(time.monotonic() - started, 1),
    }
    return bank_io.LatentBank(bank, chosen["sigma"]), figures


def write_latent_bank(
    model_dir: Path, bank: bank_io.LatentBank, figures: dict[str, Any]
) -> str:
    """Store ``bank`` as latents.npz and name it in metadata.json; returns its sha256.

    The bank is written first and metadata.json last, each by an atomic rename,
    so a crash leaves either the old set or the new one.
    """
    meta = artifacts.read_metadata(model_dir)
    with artifacts.atomic_path(model_dir / constants.LATENTS_FILE) as tmp:
        bank_io.save_arrays(tmp, bank.latents)
    digest = artifacts.sha256(model_dir / constants.LATENTS_FILE)
    meta["latents"] = {
        "file": constants.LATENTS_FILE,
        "sha256": digest,
        "sigma": bank.sigma,
        "sizes": {str(d): n for d, n in bank.sizes().items()},
        "fit": figures,
    }
    artifacts.write_metadata(model_dir, meta)
    return digest
