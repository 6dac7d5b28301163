"""The latent bank: sampling near each label, loading with a checksum, fallback."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from gancaptcha_field import artifacts, constants
from gancaptcha_field.supply import latents, registry

DIM = constants.LATENT_DIM


def synthetic_bank(sigma: float = 0.1) -> latents.LatentBank:
    """Label d's latents sit near d * 10 in every coordinate: easy to tell apart."""
    rng = np.random.default_rng(0)
    return latents.LatentBank(
        {
            d: (d * 10.0 + rng.standard_normal((5 + d, DIM))).astype(np.float32)
            for d in range(constants.NUM_CLASSES)
        },
        sigma,
    )


def nearest_label(bank: latents.LatentBank, z: np.ndarray) -> np.ndarray:
    """The label whose bank holds the latent closest to each row of ``z``."""
    labels = sorted(bank.latents)
    distances = np.stack(
        [
            np.linalg.norm(z[:, None, :] - bank.latents[d][None], axis=2).min(axis=1)
            for d in labels
        ],
        axis=1,
    )
    return np.asarray(labels)[distances.argmin(axis=1)]


def test_draws_for_a_label_come_from_that_labels_bank() -> None:
    bank = synthetic_bank(sigma=0.1)
    asked = np.array([3, 8, 8, 0, 9, 3, 5] * 20)
    z = bank.sample(asked, np.random.default_rng(1))
    assert z.shape == (len(asked), DIM) and z.dtype == np.float32
    assert nearest_label(bank, z).tolist() == asked.tolist()


def test_draws_vary_and_never_repeat_a_bank_entry() -> None:
    bank = synthetic_bank(sigma=0.1)
    z = bank.sample(np.full(200, 4), np.random.default_rng(2))
    assert len(np.unique(z, axis=0)) == 200
    stored = bank.latents[4]
    assert not (np.abs(z[:, None, :] - stored[None]).max(axis=2) == 0).any()


def test_sigma_zero_gives_bank_entries_and_the_scale_is_kept() -> None:
    bank = synthetic_bank(sigma=0.0)
    z = bank.sample(np.full(50, 2), np.random.default_rng(3))
    rows = {tuple(row) for row in bank.latents[2].tolist()}
    assert all(tuple(row) in rows for row in z.tolist())
    # perturb() divides by sqrt(1 + sigma^2): unit-variance noise stays so.
    rng = np.random.default_rng(4)
    moved = latents.perturb(rng.standard_normal((4000, DIM)), 0.7, rng)
    assert abs(float(moved.std()) - 1.0) < 0.02


def test_same_seed_same_draws() -> None:
    bank = synthetic_bank()
    asked = np.arange(10).repeat(3)
    a = bank.sample(asked, np.random.default_rng(5))
    b = bank.sample(asked, np.random.default_rng(5))
    assert np.array_equal(a, b)


@pytest.mark.parametrize(
    "latents_by_label, sigma",
    [
        ({d: np.zeros((2, DIM), np.float32) for d in range(9)}, 0.5),  # no 9
        ({d: np.zeros((2, DIM - 1), np.float32) for d in range(10)}, 0.5),
        ({d: np.zeros((0, DIM), np.float32) for d in range(10)}, 0.5),
        ({d: np.full((2, DIM), np.nan, np.float32) for d in range(10)}, 0.5),
        ({d: np.zeros((2, DIM), np.float32) for d in range(10)}, -1.0),
    ],
)
def test_malformed_banks_are_refused(
    latents_by_label: dict[int, np.ndarray], sigma: float
) -> None:
    with pytest.raises(latents.LatentBankError):
        latents.LatentBank(latents_by_label, sigma)


def write_bank(model_dir: Path, bank: latents.LatentBank) -> dict:
    path = model_dir / constants.LATENTS_FILE
    latents.save_arrays(path, bank.latents)
    return {"latents": {"sha256": artifacts.sha256(path), "sigma": bank.sigma}}


def test_a_saved_bank_loads_back_as_float16(tmp_path: Path) -> None:
    bank = synthetic_bank(sigma=0.4)
    meta = write_bank(tmp_path, bank)
    loaded = latents.load_bank(tmp_path, meta)
    assert loaded is not None and loaded.sigma == 0.4
    assert loaded.sizes() == bank.sizes()
    for d in range(10):
        expected = bank.latents[d].astype(np.float16).astype(np.float32)
        assert np.array_equal(loaded.latents[d], expected)


def test_no_bank_named_means_none(tmp_path: Path) -> None:
    # A set from before the bank: no metadata entry (a stray file is ignored).
    write_bank(tmp_path, synthetic_bank())
    assert latents.load_bank(tmp_path, {"format_version": 1}) is None


def test_a_bank_whose_checksum_mismatches_is_refused(tmp_path: Path) -> None:
    meta = write_bank(tmp_path, synthetic_bank())
    path = tmp_path / constants.LATENTS_FILE
    latents.save_arrays(
        path, synthetic_bank(sigma=0.1).latents | {0: np.ones((3, DIM))}
    )
    with pytest.raises(latents.LatentBankError, match="checksum"):
        latents.load_bank(tmp_path, meta)


def test_a_named_but_missing_bank_is_refused(tmp_path: Path) -> None:
    meta = write_bank(tmp_path, synthetic_bank())
    (tmp_path / constants.LATENTS_FILE).unlink()
    with pytest.raises(latents.LatentBankError, match="missing"):
        latents.load_bank(tmp_path, meta)


# With the shipped models: the registry uses the bank, falls back without it.

SHIPPED = Path(__file__).resolve().parent.parent / "ml_models"


def copy_models(target: Path, with_bank: bool) -> Path:
    target.mkdir()
    for name in (
        *constants.MODEL_FILES,
        *constants.ONNX_FILES,
        constants.METADATA_FILE,
    ):
        shutil.copy(SHIPPED / name, target / name)
    if with_bank:
        shutil.copy(SHIPPED / constants.LATENTS_FILE, target / constants.LATENTS_FILE)
    else:
        meta = json.loads((target / constants.METADATA_FILE).read_text())
        meta.pop("latents", None)
        (target / constants.METADATA_FILE).write_text(json.dumps(meta))
    return target


def seeded_registry(seed: int) -> registry.Registry:
    reg = registry.Registry()
    reg.rng = np.random.default_rng(seed)
    return reg


def test_shipped_bank_serves_checked_digits_of_the_asked_label(
    tmp_path: Path, settings: object
) -> None:
    model_dir = copy_models(tmp_path / "models", with_bank=True)
    settings.GANCAPTCHA_MODEL_DIR = model_dir  # type: ignore[attr-defined]
    settings.GANCAPTCHA_DRAW = {"batch_size": 64}  # type: ignore[attr-defined]
    reg = seeded_registry(11)
    assert reg.status().ok and reg.has_bank
    labels = [8, 3, 9, 0]
    images, reader_conf, verifier_conf = reg.draw_with_details(labels)
    assert images.shape == (4, 28, 28) and images.dtype == np.uint8
    assert (reader_conf >= constants.DEFAULT_READER_THRESHOLD).all()
    assert (verifier_conf >= constants.DEFAULT_VERIFIER_THRESHOLD).all()
    # The bank reaches each asked label at the first try: at most one
    # model batch per label, not the many plain noise would need for an 8
    # (seeded: the same draws every run).
    assert 1 <= reg.inference_batches <= len(labels)


def test_without_a_bank_the_old_way_serves(tmp_path: Path, settings: object) -> None:
    model_dir = copy_models(tmp_path / "models", with_bank=False)
    settings.GANCAPTCHA_MODEL_DIR = model_dir  # type: ignore[attr-defined]
    reg = seeded_registry(12)
    assert reg.status().ok and not reg.has_bank
    images = reg.draw([1, 7])
    assert images.shape == (2, 28, 28)


def test_an_altered_bank_is_refused_and_the_old_way_serves(
    tmp_path: Path, settings: object, caplog: pytest.LogCaptureFixture
) -> None:
    model_dir = copy_models(tmp_path / "models", with_bank=True)
    with open(model_dir / constants.LATENTS_FILE, "ab") as fh:
        fh.write(b"tampered")
    settings.GANCAPTCHA_MODEL_DIR = model_dir  # type: ignore[attr-defined]
    reg = seeded_registry(13)
    assert reg.status().ok and not reg.has_bank
    assert "latent bank refused" in caplog.text
    assert reg.draw([1]).shape == (1, 28, 28)


def test_fit_command_refuses_a_model_dir_without_models(tmp_path: Path) -> None:
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="missing"):
        call_command("captcha_fit_latents", model_dir=tmp_path)
    assert not (tmp_path / constants.LATENTS_FILE).exists()
