"""Internal. Where each label lives in the generator's latent space (numpy only).

A latent bank holds, per label, noise vectors whose digits passed the serving
filters when the bank was fitted (training/latents.py). Drawing label L starts
from a random entry of L's bank and moves it by fresh noise, so draws vary and
most of them pass; every draw is still checked by the reader and the verifier.
The bank is optional: a model set without one draws plain N(0, I) noise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gancaptcha_field import artifacts, constants


class LatentBankError(Exception):
    """The bank named by metadata.json is missing, altered or malformed."""


def _key(label: int) -> str:
    return f"label_{label}"


def perturb(z: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """``(z + sigma * noise) / sqrt(1 + sigma**2)``: near ``z``, still N(0, I)-scaled.

    Dividing keeps the norm where the generator was trained (about
    sqrt(latent_dim)) instead of growing with sigma.
    """
    noise = rng.standard_normal(z.shape)
    return ((z + sigma * noise) / math.sqrt(1.0 + sigma * sigma)).astype(np.float32)


@dataclass(frozen=True)
class LatentBank:
    """Per-label accepted latents and the perturbation scale used to draw."""

    latents: dict[int, np.ndarray]  # label -> (k, latent_dim) float32, k >= 1
    sigma: float

    def __post_init__(self) -> None:
        missing = sorted(set(range(constants.NUM_CLASSES)) - set(self.latents))
        if missing:
            raise LatentBankError(f"no latents for label(s) {missing}")
        for label, z in self.latents.items():
            if z.ndim != 2 or z.shape[1] != constants.LATENT_DIM or len(z) < 1:
                raise LatentBankError(f"label {label}: latents of shape {z.shape}")
            if not np.isfinite(z).all():
                raise LatentBankError(f"label {label}: non-finite latents")
        if not (math.isfinite(self.sigma) and self.sigma >= 0):
            raise LatentBankError(f"sigma must be finite and >= 0, not {self.sigma}")

    def sample(self, labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One float32 latent per entry of ``labels``, drawn near that label's bank."""
        labels = np.asarray(labels, dtype=np.int64)
        out = np.empty((len(labels), constants.LATENT_DIM), np.float32)
        for label in np.unique(labels):
            rows = np.flatnonzero(labels == label)
            bank = self.latents[int(label)]
            picks = bank[rng.integers(len(bank), size=len(rows))]
            out[rows] = perturb(picks, self.sigma, rng)
        return out

    def sizes(self) -> dict[int, int]:
        """How many latents each label holds."""
        return {label: len(z) for label, z in sorted(self.latents.items())}


def save_arrays(path: Path, latents: dict[int, np.ndarray]) -> None:
    """Write ``latents`` as float16 to ``path`` (the caller renames it in place)."""
    arrays = {_key(label): z.astype(np.float16) for label, z in latents.items()}
    with open(path, "wb") as fh:
        np.savez_compressed(fh, **arrays)  # type: ignore[arg-type]


def load_bank(model_dir: Path, meta: dict[str, Any]) -> LatentBank | None:
    """The bank that ``meta`` names, checked against its SHA-256; None if none.

    A model set without a ``latents`` entry in metadata.json (every set written
    before the bank existed) returns None and is served the old way. Raises
    LatentBankError when the named file is missing, altered or malformed.
    """
    entry = meta.get("latents")
    if entry is None:
        return None
    if not isinstance(entry, dict):
        raise LatentBankError("metadata.json 'latents' is not an object")
    path = model_dir / constants.LATENTS_FILE
    if not path.is_file():
        raise LatentBankError(f"{path} is named in metadata.json but missing")
    if artifacts.sha256(path) != entry.get("sha256"):
        raise LatentBankError(
            f"{path} does not match the checksum in metadata.json; refit it with "
            "`python manage.py captcha_fit_latents`."
        )
    try:
        sigma = float(entry["sigma"])
        with np.load(path, allow_pickle=False) as npz:
            latents = {
                label: np.asarray(npz[_key(label)], np.float32)
                for label in range(constants.NUM_CLASSES)
            }
    except (KeyError, TypeError, ValueError, OSError) as exc:
        raise LatentBankError(f"unreadable latent bank {path}: {exc}") from exc
    return LatentBank(latents, sigma)
