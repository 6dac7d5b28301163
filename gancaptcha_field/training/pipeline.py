"""Internal. Train everything the app serves, in stages, and install it with its report.

``run`` drives the stages in order: data, reader and verifier, GAN,
calibration, ONNX export, metadata, report, install. Each stage takes what it
needs and returns what it made; every file goes to a staging folder first and
is moved into place at the end, metadata.json last, so an interrupted run
leaves the old model set intact. The export is the last stage that makes
models: serving runs its ONNX files, checked here against Keras.
"""

from __future__ import annotations

import datetime as dt
import logging
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from gancaptcha_field import __version__, artifacts, constants, oracle
from gancaptcha_field.supply import models
from gancaptcha_field.training import classifiers, data, export, report
from gancaptcha_field.training.gan import (
    EpochStats,
    GanConfig,
    GanTrainer,
    reestimate_batchnorm,
)
from gancaptcha_field.training.progress import (
    Progress,
    ProgressFn,
    ProgressMeter,
    format_eta,
)

logger = logging.getLogger(__name__)

Log = Callable[[str], object]

# Threshold pairs measured on every run, so the defaults can be justified.
THRESHOLD_GRID = [
    (0.9, 0.0),
    (0.99, 0.0),
    (0.999, 0.0),
    (0.99, 0.9),
    (0.999, 0.9),
    (0.999, 0.99),
    (0.9999, 0.99),
    (0.9999, 0.999),
]

# Seed offsets, so each part of a run draws from its own stream of one seed.
READER_SEED, VERIFIER_SEED, BN_SEED, CALIBRATION_SEED = 101, 202, 303, 404


def _quiet(message: str) -> None:
    pass


def _no_progress(progress: Progress) -> None:
    pass


@dataclass
class TrainingConfig:
    """Everything ``train_captcha_models`` can be told."""

    output_dir: Path
    checkpoint_dir: Path
    data: str = "bundled"
    model_dir: Path | None = None  # where "bundled" data lives
    seed: int = 0
    limit: int | None = None
    batch_size: int = 256
    gan_epochs: int = 100
    reader_epochs: int = 10
    verifier_epochs: int = 6
    skip_gan: bool = False
    skip_reader: bool = False
    skip_verifier: bool = False
    resume: bool = False
    label_smoothing: float = 0.0
    d_lr_ratio: float = 1.0
    bn_reestimate: bool = True
    calibration_samples: int = 20000
    reader_threshold: float = constants.DEFAULT_READER_THRESHOLD
    verifier_threshold: float = constants.DEFAULT_VERIFIER_THRESHOLD
    strategy: str = "default"
    mixed_precision: bool = False
    # Least seconds between two progress reports within an epoch.
    progress_seconds: float = 10.0
    log: Log = field(default=_quiet, repr=False)
    warn: Log = field(default=_quiet, repr=False)
    progress: ProgressFn = field(default=_no_progress, repr=False)


class TrainingError(Exception):
    """A run that cannot go on; nothing half-written was left behind."""


@dataclass
class Calibration:
    """What the filters did to fresh generated digits."""

    figures: dict[str, Any]  # goes into metadata.json
    digits: np.ndarray
    verdict: oracle.Verdict


def generate(generator: keras.Model, count: int, seed: int) -> np.ndarray:
    """``count`` inference-mode samples as uint8 digits (what is served)."""
    rng = tf.random.Generator.from_seed(seed)
    out = []
    for start in range(0, count, 1024):
        z = rng.normal([min(1024, count - start), constants.LATENT_DIM])
        out.append(oracle.to_uint8(np.asarray(generator(z, training=False))))
    return np.concatenate(out)


def calibrate(
    generator: keras.Model,
    reader: keras.Model,
    verifier: keras.Model,
    count: int,
    seed: int,
    reader_threshold: float,
    verifier_threshold: float,
) -> Calibration:
    """How the filters behave on ``count`` fresh generated digits."""
    digits = generate(generator, count, seed)
    unit = classifiers.as_input(digits)
    reader_probs = classifiers.predict(reader, unit)
    verifier_probs = classifiers.predict(verifier, unit)
    agree = reader_probs.argmax(1) == verifier_probs.argmax(1)

    def label_rates(verdict: oracle.Verdict) -> list[float]:
        return [
            float(np.mean(verdict.accepted & (verdict.labels == d)))
            for d in range(constants.NUM_CLASSES)
        ]

    grid = []
    for rt, vt in THRESHOLD_GRID:
        verdict = oracle.judge(reader_probs, verifier_probs, rt, vt)
        grid.append(
            {
                "reader_threshold": rt,
                "verifier_threshold": vt,
                "pass_rate": float(verdict.accepted.mean()),
                "min_label_pass_rate": min(label_rates(verdict)),
            }
        )
    verdict = oracle.judge(
        reader_probs, verifier_probs, reader_threshold, verifier_threshold
    )
    per_label = {
        str(d): {
            "reader_share": float(np.mean(verdict.labels == d)),
            "pass_rate": rate,
        }
        for d, rate in enumerate(label_rates(verdict))
    }
    figures = {
        "samples": count,
        "mean_pixel": float(digits.mean()),
        "reader_verifier_argmax_agreement": float(agree.mean()),
        "pass_rate": float(verdict.accepted.mean()),
        "per_label": per_label,
        "threshold_grid": grid,
    }
    return Calibration(figures, digits, verdict)


def calibration_warnings(figures: dict[str, Any]) -> list[str]:
    """Why a site serving these models would fail closed, if it would."""
    if figures["pass_rate"] <= 0.0:
        return [
            f"calibration: no digit of {figures['samples']} passed both filters; "
            "a site serving these models can draw no challenge at all."
        ]
    dead = sorted(d for d, v in figures["per_label"].items() if v["pass_rate"] <= 0)
    if dead:
        return [
            f"calibration: no digit {', '.join(dead)} of {figures['samples']} "
            "passed both filters; a site serving these models cannot draw "
            "challenges that contain it and will fail closed on them."
        ]
    return []


# The stages, in the order ``run`` calls them.


def load_data(config: TrainingConfig) -> data.Mnist:
    """Stage 1: MNIST as configured (bundled, keras or a path), maybe limited."""
    try:
        mnist = data.load(config.data, config.model_dir).limited(
            config.limit, config.seed
        )
    except data.DataError as exc:
        raise TrainingError(str(exc)) from exc
    config.log(
        f"data: {mnist.source}, {len(mnist.x_train)} training digits, "
        f"{len(mnist.x_test)} held-out test digits"
    )
    return mnist


def train_classifier(
    config: TrainingConfig,
    mnist: data.Mnist,
    name: str,
    epochs: int,
    seed: int,
    staging: Path,
) -> dict[str, Any]:
    """Stage 2: the reader or the verifier, saved to staging; its metadata."""
    config.log(f"{name}: training {epochs} epochs")
    t0 = time.perf_counter()
    model = classifiers.train_classifier(
        name, mnist.x_train, mnist.y_train, epochs, seed
    )
    acc = classifiers.accuracy(model, mnist.x_test, mnist.y_test)
    config.log(f"{name}: test accuracy {acc:.4f} ({time.perf_counter() - t0:.0f}s)")
    _save_model(model, staging / f"{name}.keras")
    return {
        "architecture": model.name,
        "epochs": epochs,
        "seed": seed,
        "test_accuracy": acc,
        "test_digits": len(mnist.x_test),
        "train_digits": len(mnist.x_train),
    }


def train_gan(
    config: TrainingConfig, mnist: data.Mnist, staging: Path
) -> dict[str, Any]:
    """Stage 3: the GAN (resumable), its generator and loss plot to staging."""
    log = config.log
    gan_config = GanConfig(
        epochs=config.gan_epochs,
        batch_size=config.batch_size,
        label_smoothing=config.label_smoothing,
        d_lr_ratio=config.d_lr_ratio,
        seed=config.seed,
        strategy=config.strategy,
        mixed_precision=config.mixed_precision,
    )
    keras.utils.set_random_seed(config.seed)
    trainer = GanTrainer(gan_config)
    if trainer.strategy is not None:
        devices = ", ".join(trainer.strategy.extended.worker_devices)
        log(
            f"gan: {type(trainer.strategy).__name__} over "
            f"{trainer.replicas} device(s): {devices}"
        )
    if config.resume:
        if not trainer.load_checkpoint(config.checkpoint_dir):
            raise TrainingError(f"--resume: no checkpoint in {config.checkpoint_dir}")
        log(
            f"gan: resumed at epoch {trainer.state.epochs_done} "
            f"({trainer.state.images_seen} images seen)"
        )
    meter = ProgressMeter(config.progress, config.progress_seconds)

    def on_batch(epoch: int, done: int, total: int) -> None:
        if done == 0:
            meter.start(f"gan: epoch {epoch}/{config.gan_epochs}")
        else:
            meter.update(done, total)

    def on_epoch(stats: EpochStats, total: int) -> None:
        done = [h["seconds"] for h in trainer.state.history[-5:]]
        eta = (total - stats.epoch) * (sum(done) / len(done))
        log(
            f"gan: epoch {stats.epoch}/{total}  gen_loss {stats.gen_loss:.3f}"
            f"  disc_loss {stats.disc_loss:.3f}  {stats.seconds:.1f}s "
            f"({len(mnist.x_train) / stats.seconds:.0f} img/s)"
            f"  ETA {format_eta(eta)}"
        )

    log(f"gan: training to epoch {config.gan_epochs}, batch {config.batch_size}")
    state = trainer.train(mnist.x_train, config.checkpoint_dir, on_epoch, on_batch)
    generator = trainer.export_generator()
    if config.bn_reestimate:
        reestimate_batchnorm(generator, seed=config.seed + BN_SEED)
        log("gan: BatchNorm statistics re-estimated")
    _save_model(generator, staging / constants.GENERATOR_FILE)
    report.plot_losses(state.history, staging / constants.LOSS_PLOT_FILE)
    seconds = [h["seconds"] for h in state.history]
    return {
        "epochs": state.epochs_done,
        "images_seen": state.images_seen,
        "batch_size": config.batch_size,
        "learning_rate": gan_config.learning_rate,
        "d_lr_ratio": config.d_lr_ratio,
        "label_smoothing": config.label_smoothing,
        "bn_reestimated": config.bn_reestimate,
        "mixed_precision": config.mixed_precision,
        "seconds_per_epoch": float(np.median(seconds)) if seconds else None,
        "train_digits": len(mnist.x_train),
        "seed": config.seed,
    }


def calibrate_models(
    config: TrainingConfig, staging: Path, out: Path
) -> Calibration | None:
    """Stage 4: measure the set that will be installed; None if incomplete."""
    models = {
        name: _load(_current(staging, out, name)) for name in constants.MODEL_FILES
    }
    if any(m is None for m in models.values()):
        config.log("calibration: skipped, the model set is incomplete")
        return None
    config.log(f"calibration: {config.calibration_samples} generated digits")
    cal = calibrate(
        models[constants.GENERATOR_FILE],
        models[constants.READER_FILE],
        models[constants.VERIFIER_FILE],
        config.calibration_samples,
        config.seed + CALIBRATION_SEED,
        config.reader_threshold,
        config.verifier_threshold,
    )
    rarest = min(v["pass_rate"] for v in cal.figures["per_label"].values())
    config.log(
        f"calibration: {cal.figures['pass_rate']:.2%} pass both filters; "
        f"rarest label passes {rarest:.3%}"
    )
    return cal


def export_onnx(config: TrainingConfig, staging: Path, out: Path) -> dict[str, Any]:
    """Stage 5: the set as ONNX files in staging, checked against Keras; the
    figures for metadata.json ({} when the set is incomplete)."""
    sources = {
        role: _current(staging, out, name)
        for role, name in zip(models.ROLES, constants.MODEL_FILES, strict=True)
    }
    if not all(path.is_file() for path in sources.values()):
        config.log("export: skipped, the model set is incomplete")
        return {}
    try:
        return export.export_set(
            sources,
            staging,
            config.reader_threshold,
            config.verifier_threshold,
            log=config.log,
        )
    except export.ExportError as exc:
        raise TrainingError(str(exc)) from exc


def build_metadata(
    config: TrainingConfig,
    sections: dict[str, Any],
    calibration: Calibration | None,
    source: str,
    staging: Path,
    started: float,
) -> dict[str, Any]:
    """Stage 6: metadata.json for the set as it will be installed."""
    meta = dict(sections)
    warnings: list[str] = []
    if calibration is not None:
        meta["calibration"] = calibration.figures
        warnings = calibration_warnings(calibration.figures)
    for warning in warnings:
        # Loud on purpose: such a site fails closed on every such challenge.
        logger.warning("GanCaptcha training: %s", warning)
        config.warn(f"WARNING: {warning}")
    files = {
        name: artifacts.sha256(path)
        for name in constants.MODEL_FILES
        if (path := _current(staging, config.output_dir, name)).is_file()
    }
    # Only this run's export: an older one would not match these models.
    files.update(
        {
            name: artifacts.sha256(staging / name)
            for name in constants.ONNX_FILES
            if "onnx" in sections and (staging / name).is_file()
        }
    )
    meta.update(
        {
            "format_version": constants.MODEL_FORMAT_VERSION,
            "gancaptcha_version": __version__,
            "tensorflow_version": tf.__version__,
            "keras_version": keras.__version__,
            "numpy_version": np.__version__,
            "python_version": platform.python_version(),
            "seed": config.seed,
            "data_source": source,
            "pixel_range": {
                "generator": list(constants.GENERATOR_RANGE),
                "classifiers": list(constants.CLASSIFIER_RANGE),
            },
            "latent_dim": constants.LATENT_DIM,
            "image_size": constants.IMAGE_SIZE,
            "thresholds": {
                "reader": config.reader_threshold,
                "verifier": config.verifier_threshold,
            },
            "files": files,
            "warnings": warnings,
            "trained_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "run_seconds": round(time.time() - started, 1),
            "config": _settings_of(config),
        }
    )
    return meta


def write_report(
    meta: dict[str, Any], calibration: Calibration | None, staging: Path
) -> None:
    """Stage 7: the sample grid and the figures' charts, into staging."""
    report.plot_metadata(meta, staging)
    if calibration is None:
        return
    verdict, picks = calibration.verdict, list[int]()
    for label in range(constants.NUM_CLASSES):
        picks.extend(np.flatnonzero(verdict.accepted & (verdict.labels == label))[:10])
    if picks:
        idx = np.array(picks)
        report.contact_sheet(
            calibration.digits[idx],
            verdict.labels[idx],
            verdict.confidence[idx],
            staging / constants.SAMPLE_GRID_FILE,
        )


def install(meta: dict[str, Any], staging: Path, out: Path) -> list[str]:
    """Stage 8: move the staged files into place, then metadata.json last."""
    installed = artifacts.install_staged(staging, out)
    artifacts.write_metadata(out, meta)
    return installed


def run(config: TrainingConfig) -> dict[str, Any]:
    """Train what is not skipped, then write models, report and metadata."""
    started = time.time()
    mnist = load_data(config)
    out = config.output_dir
    with export.staging(out) as staging:
        previous = artifacts.read_metadata_or_empty(out)
        # Sections of parts this run skips are carried over from the old set.
        sections: dict[str, Any] = {
            k: previous[k] for k in ("reader", "verifier", "gan") if k in previous
        }
        for name, skip, epochs, offset in (
            ("reader", config.skip_reader, config.reader_epochs, READER_SEED),
            ("verifier", config.skip_verifier, config.verifier_epochs, VERIFIER_SEED),
        ):
            if not skip:
                sections[name] = train_classifier(
                    config, mnist, name, epochs, config.seed + offset, staging
                )
        if not config.skip_gan:
            sections["gan"] = train_gan(config, mnist, staging)
        calibration = calibrate_models(config, staging, out)
        onnx = export_onnx(config, staging, out)
        if onnx:
            sections["onnx"] = onnx
        meta = build_metadata(
            config, sections, calibration, mnist.source, staging, started
        )
        write_report(meta, calibration, staging)
        installed = install(meta, staging, out)
    config.log(
        f"wrote {', '.join(installed) or 'nothing new'} and "
        f"{constants.METADATA_FILE} to {out}"
    )
    if "latents" in previous:
        # Its latents were checked against the old models; metadata.json no
        # longer names it, so the registry draws from plain noise until then.
        (out / constants.LATENTS_FILE).unlink(missing_ok=True)
        config.log(
            "the latent bank belonged to the old models and was dropped: run "
            "`python manage.py captcha_fit_latents` (until then challenges are "
            "drawn from plain noise, several times slower)"
        )
    return meta


def _settings_of(config: TrainingConfig) -> dict[str, Any]:
    # Not asdict(): it deep-copies the callbacks (and the command behind them).
    values = {f.name: getattr(config, f.name) for f in fields(config)}
    return {
        k: (str(v) if isinstance(v, Path) else v)
        for k, v in values.items()
        if not callable(v)
    }


def _current(staging: Path, out: Path, name: str) -> Path:
    staged = staging / name
    return staged if staged.is_file() else out / name


def _save_model(model: keras.Model, path: Path) -> None:
    with artifacts.atomic_path(path) as tmp:
        model.save(tmp)


def _load(path: Path) -> keras.Model | None:
    return keras.models.load_model(path, compile=False) if path.is_file() else None
