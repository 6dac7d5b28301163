"""train_captcha_models: tiny runs into tmp_path, then served end to end."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from django.core.management import CommandError, call_command

from gancaptcha_field import constants, oracle
from gancaptcha_field.supply import registry
from gancaptcha_field.training import data, pipeline, report

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow

TINY = [
    "--limit",
    "300",
    "--gan-epochs",
    "1",
    "--reader-epochs",
    "1",
    "--verifier-epochs",
    "1",
    "--calibration-samples",
    "256",
    "--batch-size",
    "64",
]


def train(output_dir: Path, *extra: str) -> str:
    out = io.StringIO()
    call_command(
        "train_captcha_models",
        "--output-dir",
        str(output_dir),
        *TINY,
        *extra,
        stdout=out,
    )
    return out.getvalue()


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    output_dir = tmp_path_factory.mktemp("tiny_models")
    train(output_dir)
    return output_dir


def test_writes_models_report_and_metadata(tiny_dir: Path) -> None:
    for name in (
        *constants.MODEL_FILES,
        constants.METADATA_FILE,
        constants.LOSS_PLOT_FILE,
    ):
        assert (tiny_dir / name).is_file(), name
    meta = json.loads((tiny_dir / constants.METADATA_FILE).read_text())
    assert meta["format_version"] == constants.MODEL_FORMAT_VERSION
    assert meta["gan"]["epochs"] == 1
    # Four full batches of 64: the partial last batch is dropped (one shape).
    assert meta["gan"]["images_seen"] == 256
    assert meta["reader"]["train_digits"] == 300
    # Measured on the held-out split, never on the training digits.
    assert meta["reader"]["test_digits"] == 10000
    assert 0.0 <= meta["reader"]["test_accuracy"] <= 1.0
    assert meta["data_source"] == "bundled (limit 300)"
    assert meta["pixel_range"]["generator"] == [-1.0, 1.0]
    # The export stage: the ONNX files serving runs, pinned beside the .keras.
    assert set(meta["files"]) == {*constants.MODEL_FILES, *constants.ONNX_FILES}
    for name in constants.ONNX_FILES:
        assert (tiny_dir / name).is_file(), name
    parity = meta["onnx"]["parity"]
    assert meta["onnx"]["opset"] == constants.ONNX_OPSET
    assert max(parity["max_abs_diff"].values()) <= parity["tolerance"]
    assert parity["served_labels_match"] is True
    assert registry.inspect_model_dir(tiny_dir).ok
    assert "calibration" in meta
    assert not list(tiny_dir.glob(".staging-*"))
    assert (tiny_dir / "checkpoints" / "gan_checkpoint.npz").is_file()


def test_progress_shows_losses_time_and_eta(tmp_path: Path) -> None:
    output = train(tmp_path, "--skip-reader", "--skip-verifier")
    lines = output.splitlines()
    line = next(x for x in lines if x.startswith("gan: epoch 1/1  "))
    assert "gen_loss" in line and "disc_loss" in line and "ETA" in line
    # Within the epoch: a bar with a running rate, at least its final state,
    # written before the epoch's summary line.
    bars = [x for x in lines if x.startswith("gan: epoch 1/1 [")]
    bar = bars[-1]  # a slow machine may also show earlier ones
    assert bar.endswith("ETA done") and "256/256 img" in bar and "img/s" in bar
    assert lines.index(bar) < lines.index(line)


def _agreeing_and_silent(tiny_dir: Path, tmp_path: Path) -> tuple[Path, Path]:
    """Two model sets built from the tiny one, re-measured by the command.

    "agreeing": the verifier is a copy of the reader, so at thresholds 0 every
    drawn digit passes. "silent": the reader gives every digit 0.1 for every
    label, so at the default thresholds none ever passes.
    """
    import shutil

    import keras

    agreeing, silent = tmp_path / "agreeing", tmp_path / "silent"
    for target in (agreeing, silent):
        shutil.copytree(tiny_dir, target, ignore=shutil.ignore_patterns("*.png"))
    shutil.copyfile(
        tiny_dir / constants.READER_FILE, agreeing / constants.VERIFIER_FILE
    )
    inputs = keras.Input((28, 28, 1))
    flat = keras.layers.Flatten()(inputs)
    outputs = keras.layers.Dense(10, activation="softmax", kernel_initializer="zeros")(
        flat
    )
    keras.Model(inputs, outputs, name="uniform").save(silent / constants.READER_FILE)
    skip = ("--skip-gan", "--skip-reader", "--skip-verifier")
    train(agreeing, *skip)
    return agreeing, silent


@pytest.fixture(scope="module")
def silent_output(
    tiny_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path, str]:
    agreeing, silent = _agreeing_and_silent(
        tiny_dir, tmp_path_factory.mktemp("variants")
    )
    err = io.StringIO()
    call_command(
        "train_captcha_models",
        "--output-dir",
        str(silent),
        *TINY,
        "--skip-gan",
        "--skip-reader",
        "--skip-verifier",
        stdout=io.StringIO(),
        stderr=err,
    )
    return agreeing, silent, err.getvalue()


def test_models_are_served_end_to_end(
    silent_output: tuple[Path, Path, str], settings
) -> None:
    agreeing = silent_output[0]
    settings.GANCAPTCHA_MODEL_DIR = agreeing
    # A tiny model is never that sure.
    settings.GANCAPTCHA_SERVING_RULE = {
        "reader_threshold": 0.0,
        "verifier_threshold": 0.0,
        "margin": 0.0,
    }
    reg = registry.Registry()
    reg.rng = np.random.default_rng(0)  # serving noise is from the OS otherwise
    assert reg.load().ok
    supply = reg.digits()
    supply.apply_rule()
    supply._generate_batch()
    assert reg.inference_batches == 1
    # Reader and verifier are the same network here: every digit of the batch
    # passed, so some label has digits waiting whatever the networks draw.
    sizes = reg.bucket_sizes()
    assert sum(sizes.values()) > 0
    label = max(sizes, key=lambda d: sizes[d])
    images, reader_conf, verifier_conf = reg.draw_with_details([label])
    assert reg.inference_batches == 1  # served from the bucket
    assert images.shape == (1, 28, 28) and images.dtype == np.uint8
    assert 0.0 < float(reader_conf[0]) <= 1.0
    assert float(verifier_conf[0]) == pytest.approx(float(reader_conf[0]), abs=1e-5)


def test_a_label_that_never_passes_fails_closed_in_bounded_batches(
    silent_output: tuple[Path, Path, str], settings
) -> None:
    settings.GANCAPTCHA_MODEL_DIR = silent_output[1]
    settings.GANCAPTCHA_DRAW = {"max_batches": 3}
    reg = registry.Registry()
    assert reg.load().ok
    with pytest.raises(registry.DigitSupplyError):
        reg.draw([0])
    assert reg.inference_batches == 3


def test_models_passing_no_digit_are_warned_about_loudly(
    silent_output: tuple[Path, Path, str], caplog: pytest.LogCaptureFixture
) -> None:
    silent, err = silent_output[1], silent_output[2]
    assert "WARNING: calibration: no digit of 256 passed both filters" in err
    meta = json.loads((silent / constants.METADATA_FILE).read_text())
    assert meta["calibration"]["pass_rate"] == 0.0
    assert len(meta["warnings"]) == 1 and "no digit" in meta["warnings"][0]


def test_calibration_warnings_name_the_labels_that_never_pass() -> None:
    def figures(rates: list[float]) -> dict:
        return {
            "samples": 100,
            "pass_rate": sum(rates),
            "per_label": {str(d): {"pass_rate": r} for d, r in enumerate(rates)},
        }

    assert pipeline.calibration_warnings(figures([0.01] * 10)) == []
    (warning,) = pipeline.calibration_warnings(figures([0.01] * 8 + [0.0, 0.0]))
    assert "no digit 8, 9 of 100" in warning and "fail closed" in warning
    (warning,) = pipeline.calibration_warnings(figures([0.0] * 10))
    assert "no digit of 100" in warning


def test_pass_rate_chart_is_drawn_from_metadata(tiny_dir: Path, tmp_path: Path) -> None:
    assert (tiny_dir / constants.PASS_RATE_PLOT_FILE).is_file()
    # By hand, for a set trained before the chart existed: models untouched.
    import shutil

    shutil.copy(ROOT / "ml_models" / constants.METADATA_FILE, tmp_path)
    assert report.write_charts(tmp_path) == [constants.PASS_RATE_PLOT_FILE]
    with Image.open(tmp_path / constants.PASS_RATE_PLOT_FILE) as png:
        assert png.format == "PNG" and png.size[0] > png.size[1] > 100
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        constants.METADATA_FILE,
        constants.PASS_RATE_PLOT_FILE,
    ]
    # No calibration in the metadata: no chart, and no error.
    (tmp_path / constants.METADATA_FILE).write_text('{"format_version": 1}')
    (tmp_path / constants.PASS_RATE_PLOT_FILE).unlink()
    assert report.write_charts(tmp_path) == []


def test_resume_continues_from_checkpoint(tmp_path: Path) -> None:
    train(tmp_path, "--skip-reader", "--skip-verifier")
    output = train(
        tmp_path, "--skip-reader", "--skip-verifier", "--resume", "--gan-epochs", "2"
    )
    assert "resumed at epoch 1" in output
    assert "gan: epoch 2/2" in output and "gan: epoch 1/2" not in output
    meta = json.loads((tmp_path / constants.METADATA_FILE).read_text())
    assert meta["gan"]["epochs"] == 2
    assert meta["gan"]["images_seen"] == 512


def test_resume_without_checkpoint_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="no checkpoint"):
        train(tmp_path, "--skip-reader", "--skip-verifier", "--resume")


class _InterruptAt(io.StringIO):
    """A stdout that raises when a given line is written, like Ctrl-C there."""

    def __init__(self, marker: str) -> None:
        super().__init__()
        self.marker = marker

    def write(self, text: str) -> int:
        if self.marker in text:
            raise KeyboardInterrupt
        return super().write(text)


def test_interrupted_run_leaves_previous_models_intact(
    tiny_dir: Path, tmp_path: Path
) -> None:
    import shutil

    target = tmp_path / "models"
    shutil.copytree(tiny_dir, target)
    before = {p.name: p.read_bytes() for p in target.iterdir() if p.is_file()}
    with pytest.raises(KeyboardInterrupt):
        call_command(
            "train_captcha_models",
            "--output-dir",
            str(target),
            *TINY,
            "--seed",
            "7",
            stdout=_InterruptAt("calibration:"),
        )
    after = {p.name: p.read_bytes() for p in target.iterdir() if p.is_file()}
    assert after == before
    assert not list(target.glob(".staging-*"))
    assert not list(target.glob(".*tmp*"))


def test_missing_bundled_data_is_a_command_error(tmp_path: Path, settings) -> None:
    settings.GANCAPTCHA_MODEL_DIR = tmp_path / "installed_without_data"
    with pytest.raises(CommandError, match="bundled MNIST copy is absent"):
        train(tmp_path / "out")
    assert not (tmp_path / "out" / constants.GENERATOR_FILE).exists()


def test_data_path_must_be_in_keras_layout(tmp_path: Path) -> None:
    bad = tmp_path / "bad.npz"
    np.savez(bad, x=np.zeros((3, 28, 28), np.uint8))
    with pytest.raises(CommandError, match=r"not in Keras' mnist\.npz layout"):
        train(tmp_path / "out", "--data", str(bad))
    with pytest.raises(CommandError, match="not found"):
        train(tmp_path / "out", "--data", str(tmp_path / "nope.npz"))


def test_data_path_in_keras_layout_is_used(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    path = tmp_path / "mine.npz"
    np.savez(
        path,
        x_train=rng.integers(0, 255, (40, 28, 28), dtype=np.uint8),
        y_train=rng.integers(0, 10, 40, dtype=np.uint8),
        x_test=rng.integers(0, 255, (20, 28, 28), dtype=np.uint8),
        y_test=rng.integers(0, 10, 20, dtype=np.uint8),
    )
    train(tmp_path / "out", "--data", str(path), "--skip-gan", "--skip-verifier")
    meta = json.loads((tmp_path / "out" / constants.METADATA_FILE).read_text())
    assert meta["data_source"] == str(path)
    assert meta["reader"]["train_digits"] == 40
    assert meta["reader"]["test_digits"] == 20


def test_keras_download_fails_cleanly_offline_or_loads(monkeypatch, tmp_path) -> None:
    # Keras caches under KERAS_HOME; an empty one forces a real download attempt.
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    try:
        mnist = data.load("keras", None)
    except data.DataError as exc:
        assert "Offline?" in str(exc)
    else:
        assert mnist.x_train.shape == (60000, 28, 28)


def test_bundled_data_is_full_mnist() -> None:
    mnist = data.load("bundled", Path(__file__).resolve().parent.parent / "ml_models")
    assert mnist.x_train.shape == (60000, 28, 28)
    assert mnist.x_test.shape == (10000, 28, 28)
    assert sorted(np.unique(mnist.y_train)) == list(range(10))


def test_limit_is_a_seeded_subset() -> None:
    mnist = data.load("bundled", Path(__file__).resolve().parent.parent / "ml_models")
    a, b = mnist.limited(100, seed=1), mnist.limited(100, seed=1)
    assert np.array_equal(a.x_train, b.x_train)
    assert len(a.x_train) == 100 and len(a.x_test) == 10000


def test_bad_limit_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(CommandError):
        call_command(
            "train_captcha_models", "--output-dir", str(tmp_path), "--limit", "0"
        )


def test_only_digits_the_reader_is_sure_of_reach_the_verifier(
    tiny_dir: Path, settings
) -> None:
    # Serving skips the verifier for digits the reader is not sure of; the
    # verdicts must be those of running both classifiers on every digit.
    settings.GANCAPTCHA_MODEL_DIR = tiny_dir
    reg = registry.Registry()
    assert reg.load().ok
    model_set = reg.model_set()
    z = np.random.default_rng(7).standard_normal((64, 100)).astype(np.float32)
    drawn = model_set.generate(z)
    unit = (drawn + 1.0) / 2.0
    full_reader = model_set.read(unit)
    full_verifier = model_set.verify(unit)
    best = full_reader.max(axis=1)
    # All sure, about half (the tiny reader is never very sure), none.
    for reader_threshold in (0.0, float(np.median(best)), float(best.max()) + 1e-3):
        images, reader_probs, verifier_probs = model_set.infer(z, reader_threshold)
        np.testing.assert_allclose(np.asarray(images), drawn, atol=1e-5)
        np.testing.assert_allclose(reader_probs, full_reader, atol=1e-5)
        sure = best >= reader_threshold
        assert not verifier_probs[~sure].any()  # never computed for those
        np.testing.assert_allclose(verifier_probs[sure], full_verifier[sure], atol=1e-5)
        for verifier_threshold in (0.0, float(np.median(full_verifier.max(axis=1)))):
            ours = oracle.judge(
                reader_probs, verifier_probs, reader_threshold, verifier_threshold
            )
            full = oracle.judge(
                full_reader, full_verifier, reader_threshold, verifier_threshold
            )
            np.testing.assert_array_equal(ours.accepted, full.accepted)
            np.testing.assert_array_equal(ours.labels, full.labels)


def test_retraining_drops_the_old_latent_bank_and_says_so(
    tiny_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "models"
    shutil.copytree(tiny_dir, out)
    meta_path = out / constants.METADATA_FILE
    meta = json.loads(meta_path.read_text())
    meta["latents"] = {"file": constants.LATENTS_FILE, "sha256": "0" * 64}
    meta_path.write_text(json.dumps(meta))
    (out / constants.LATENTS_FILE).write_bytes(b"old bank")
    printed = train(out, "--skip-gan", "--skip-reader", "--skip-verifier")
    assert "captcha_fit_latents" in printed
    assert not (out / constants.LATENTS_FILE).exists()
    assert "latents" not in json.loads(meta_path.read_text())
