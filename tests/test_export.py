"""The ONNX export: the shipped .onnx files serve what the .keras files served,
and an older model set is exported by one command."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from pytest_django import Settings

from django.core.management import CommandError, call_command

from gancaptcha_field import artifacts, checks, constants, oracle
from gancaptcha_field.supply import latents, registry
from gancaptcha_field.supply.models import ModelSet

SHIPPED = Path(__file__).resolve().parent.parent / "ml_models"
SEED = 20261207


@pytest.fixture(scope="module")
def keras_models() -> tuple[object, object, object]:
    """The shipped .keras files (skipped where TensorFlow is not installed)."""
    keras = pytest.importorskip("keras")
    pytest.importorskip("tensorflow")
    return tuple(  # type: ignore[return-value]
        keras.models.load_model(SHIPPED / name, compile=False)
        for name in constants.MODEL_FILES
    )


def fixed_latents() -> np.ndarray:
    """A fixed batch as served: half drawn near the shipped bank, half plain."""
    rng = np.random.default_rng(SEED)
    meta = artifacts.read_metadata(SHIPPED)
    bank = latents.load_bank(SHIPPED, meta)
    assert bank is not None
    labels = np.repeat(np.arange(constants.NUM_CLASSES), 26)
    near = bank.sample(labels, rng)
    plain = rng.standard_normal((260, constants.LATENT_DIM)).astype(np.float32)
    return np.concatenate([near, plain])


def test_onnx_serves_every_label_keras_served(keras_models: tuple) -> None:
    generator, reader, verifier = keras_models
    z = fixed_latents()
    # Keras as serving ran it before: training=False, tanh out, (x + 1) / 2.
    images = np.asarray(generator(z, training=False))
    unit = (images + 1.0) / 2.0
    reader_probs = np.asarray(reader(unit, training=False))
    verifier_probs = np.asarray(verifier(unit, training=False))

    models = ModelSet.load(SHIPPED)
    ours = models.generate(z)
    assert np.abs(ours - images).max() < 1e-4
    assert np.abs(models.read(unit) - reader_probs).max() < 1e-4
    assert np.abs(models.verify(unit) - verifier_probs).max() < 1e-4
    # The served digits: at most one grey level apart (rounding at .5).
    pixels = oracle.to_uint8(ours).astype(int) - oracle.to_uint8(images)
    assert np.abs(pixels).max() <= 1

    # The decisions, end to end as the registry makes them.
    rule = (
        constants.DEFAULT_READER_THRESHOLD,
        constants.DEFAULT_VERIFIER_THRESHOLD,
    )
    _, onnx_reader, onnx_verifier = models.infer(z, rule[0])
    before = oracle.judge(
        reader_probs, verifier_probs, *rule, margin=constants.DEFAULT_MARGIN
    )
    after = oracle.judge(
        onnx_reader, onnx_verifier, *rule, margin=constants.DEFAULT_MARGIN
    )
    assert before.accepted.sum() > 100  # the batch exercises the rule
    np.testing.assert_array_equal(after.accepted, before.accepted)
    np.testing.assert_array_equal(after.labels, before.labels)
    np.testing.assert_allclose(after.confidence, before.confidence, atol=1e-5)


def test_the_shipped_metadata_pins_both_formats() -> None:
    meta = artifacts.read_metadata(SHIPPED)
    for name in (*constants.MODEL_FILES, *constants.ONNX_FILES):
        assert meta["files"][name] == artifacts.sha256(SHIPPED / name), name
    assert meta["onnx"]["opset"] == constants.ONNX_OPSET
    parity = meta["onnx"]["parity"]
    assert max(parity["max_abs_diff"].values()) <= parity["tolerance"]
    assert parity["served_labels_match"] is True


def test_model_set_reads_empty_batches() -> None:
    models = ModelSet.load(SHIPPED)
    assert models.generate(np.zeros((0, constants.LATENT_DIM))).shape == (
        0,
        constants.IMAGE_SIZE,
        constants.IMAGE_SIZE,
        1,
    )
    assert models.read(np.zeros((0, 28, 28))).shape == (0, constants.NUM_CLASSES)


def test_one_thread_serves_what_a_thread_per_core_serves() -> None:
    # Web servers run the sessions on models.WEB_SERVER_THREADS threads.
    z = fixed_latents()
    rule = (constants.DEFAULT_READER_THRESHOLD, constants.DEFAULT_VERIFIER_THRESHOLD)
    verdicts = []
    for threads in (1, 0):
        _, reader_probs, verifier_probs = ModelSet.load(SHIPPED, threads=threads).infer(
            z, rule[0]
        )
        verdicts.append(
            oracle.judge(
                reader_probs, verifier_probs, *rule, margin=constants.DEFAULT_MARGIN
            )
        )
    one, many = verdicts
    assert one.accepted.sum() > 100  # the batch exercises the rule
    np.testing.assert_array_equal(one.accepted, many.accepted)
    np.testing.assert_array_equal(one.labels, many.labels)
    np.testing.assert_allclose(one.confidence, many.confidence, atol=1e-6)


def test_model_set_refuses_a_negative_thread_count() -> None:
    with pytest.raises(ValueError, match="threads must be 0"):
        ModelSet.load(SHIPPED, threads=-1)


def old_model_set(target: Path) -> Path:
    """The shipped set as an older version wrote it: no ONNX files."""
    target.mkdir()
    for name in (*constants.MODEL_FILES, constants.LATENTS_FILE):
        shutil.copy(SHIPPED / name, target / name)
    meta = artifacts.read_metadata(SHIPPED)
    meta.pop("onnx")
    for name in constants.ONNX_FILES:
        meta["files"].pop(name)
    artifacts.write_metadata(target, meta)
    return target


@pytest.mark.django_db
def test_one_command_exports_an_old_set(
    keras_models: tuple, tmp_path: Path, settings: Settings
) -> None:
    old = old_model_set(tmp_path / "old")
    settings.GANCAPTCHA_MODEL_DIR = old
    assert [m.id for m in checks.check_models()] == ["gancaptcha_field.W004"]
    out = io.StringIO()
    call_command("captcha_export_onnx", "--model-dir", str(old), stdout=out)
    assert "largest difference from Keras" in out.getvalue()
    assert checks.check_models() == []
    meta = json.loads((old / constants.METADATA_FILE).read_text())
    assert meta["latents"] == artifacts.read_metadata(SHIPPED)["latents"]  # kept
    assert meta["onnx"]["parity"]["served_labels_match"] is True
    assert not list(old.glob(".staging-*"))
    fresh = registry.Registry()
    assert fresh.load().ok and fresh.has_bank
    assert fresh.draw([3, 1, 4, 1]).shape == (4, 28, 28)


def test_the_export_command_refuses_a_directory_without_models(
    keras_models: tuple, tmp_path: Path
) -> None:
    with pytest.raises(CommandError, match="missing"):
        call_command("captcha_export_onnx", "--model-dir", str(tmp_path))
    assert not list(tmp_path.iterdir())


def test_the_export_command_refuses_a_mixed_set(
    keras_models: tuple, tmp_path: Path
) -> None:
    old = old_model_set(tmp_path / "old")
    shutil.copy(SHIPPED / constants.READER_FILE, old / constants.VERIFIER_FILE)
    with pytest.raises(CommandError, match=r"verifier\.keras does not match"):
        call_command("captcha_export_onnx", "--model-dir", str(old))
    assert not (old / constants.GENERATOR_ONNX_FILE).exists()
