"""Train everything the app serves and write it atomically with its report."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import platform
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from gancaptcha_field import __version__, constants, oracle
from gancaptcha_field.training import classifiers, data, report
from gancaptcha_field.training.gan import (
    EpochStats,
    GanConfig,
    GanTrainer,
    reestimate_batchnorm,
)

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
    log: Log = field(default=lambda message: None, repr=False)


class TrainingError(Exception):
    """A run that cannot go on; nothing half-written was left behind."""


def sha256(path: Path) -> str:
    """Hex digest of a file (metadata pins the exact files of a model set)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _format_eta(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


def _save_model(model: keras.Model, path: Path) -> None:
    # Keras insists on the .keras suffix, so the temporary name keeps it.
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.keras")
    model.save(tmp)
    os.replace(tmp, path)


def _write_json(payload: dict[str, Any], path: Path) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def _load(path: Path) -> keras.Model | None:
    return keras.models.load_model(path, compile=False) if path.is_file() else None


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
) -> dict[str, Any]:
    """How the filters behave on ``count`` fresh generated digits."""
    digits = generate(generator, count, seed)
    unit = classifiers.as_input(digits)
    reader_probs = classifiers.predict(reader, unit)
    verifier_probs = classifiers.predict(verifier, unit)
    agree = reader_probs.argmax(1) == verifier_probs.argmax(1)
    grid = []
    for rt, vt in THRESHOLD_GRID:
        verdict = oracle.judge(reader_probs, verifier_probs, rt, vt)
        grid.append(
            {
                "reader_threshold": rt,
                "verifier_threshold": vt,
                "pass_rate": float(verdict.accepted.mean()),
                "min_label_pass_rate": float(
                    min(
                        np.mean(verdict.accepted & (verdict.labels == d))
                        for d in range(constants.NUM_CLASSES)
                    )
                ),
            }
        )
    verdict = oracle.judge(
        reader_probs, verifier_probs, reader_threshold, verifier_threshold
    )
    per_label = {
        str(d): {
            "reader_share": float(np.mean(verdict.labels == d)),
            "pass_rate": float(np.mean(verdict.accepted & (verdict.labels == d))),
        }
        for d in range(constants.NUM_CLASSES)
    }
    return {
        "samples": count,
        "mean_pixel": float(digits.mean()),
        "reader_verifier_argmax_agreement": float(agree.mean()),
        "pass_rate": float(verdict.accepted.mean()),
        "per_label": per_label,
        "threshold_grid": grid,
        "_digits": digits,
        "_verdict": verdict,
    }


def run(config: TrainingConfig) -> dict[str, Any]:
    """Train what is not skipped, then write models, report and metadata."""
    log = config.log
    started = time.time()
    try:
        mnist = data.load(config.data, config.model_dir).limited(
            config.limit, config.seed
        )
    except data.DataError as exc:
        raise TrainingError(str(exc)) from exc
    log(
        f"data: {mnist.source}, {len(mnist.x_train)} training digits, "
        f"{len(mnist.x_test)} held-out test digits"
    )

    out = config.output_dir
    out.mkdir(parents=True, exist_ok=True)
    # Everything goes to a staging folder first and is moved into place at the
    # end, metadata last, so an interrupted run leaves the old set intact.
    staging = out / f".staging-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    metadata_path = out / constants.METADATA_FILE
    previous: dict[str, Any] = {}
    if metadata_path.is_file():
        try:
            previous = json.loads(metadata_path.read_text())
        except ValueError:
            previous = {}
    meta: dict[str, Any] = {
        key: previous[key] for key in ("reader", "verifier", "gan") if key in previous
    }
    try:
        for name, skip, epochs, offset in (
            ("reader", config.skip_reader, config.reader_epochs, 101),
            ("verifier", config.skip_verifier, config.verifier_epochs, 202),
        ):
            if skip:
                continue
            log(f"{name}: training {epochs} epochs")
            t0 = time.perf_counter()
            model = classifiers.train_classifier(
                name, mnist.x_train, mnist.y_train, epochs, config.seed + offset
            )
            acc = classifiers.accuracy(model, mnist.x_test, mnist.y_test)
            log(f"{name}: test accuracy {acc:.4f} ({time.perf_counter() - t0:.0f}s)")
            _save_model(model, staging / f"{name}.keras")
            meta[name] = {
                "architecture": model.name,
                "epochs": epochs,
                "seed": config.seed + offset,
                "test_accuracy": acc,
                "test_digits": len(mnist.x_test),
                "train_digits": len(mnist.x_train),
            }

        if not config.skip_gan:
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
                    raise TrainingError(
                        f"--resume: no checkpoint in {config.checkpoint_dir}"
                    )
                log(
                    f"gan: resumed at epoch {trainer.state.epochs_done} "
                    f"({trainer.state.images_seen} images seen)"
                )

            def progress(stats: EpochStats, total: int) -> None:
                done = [h["seconds"] for h in trainer.state.history[-5:]]
                eta = (total - stats.epoch) * (sum(done) / len(done))
                log(
                    f"gan: epoch {stats.epoch}/{total}  gen_loss {stats.gen_loss:.3f}"
                    f"  disc_loss {stats.disc_loss:.3f}  {stats.seconds:.1f}s "
                    f"({len(mnist.x_train) / stats.seconds:.0f} img/s)"
                    f"  ETA {_format_eta(eta)}"
                )

            log(
                f"gan: training to epoch {config.gan_epochs}, batch {config.batch_size}"
            )
            state = trainer.train(mnist.x_train, config.checkpoint_dir, progress)
            generator = trainer.export_generator()
            if config.bn_reestimate:
                reestimate_batchnorm(generator, seed=config.seed + 303)
                log("gan: BatchNorm statistics re-estimated")
            _save_model(generator, staging / constants.GENERATOR_FILE)
            report.plot_losses(state.history, staging / constants.LOSS_PLOT_FILE)
            meta["gan"] = {
                "epochs": state.epochs_done,
                "images_seen": state.images_seen,
                "batch_size": config.batch_size,
                "learning_rate": gan_config.learning_rate,
                "d_lr_ratio": config.d_lr_ratio,
                "label_smoothing": config.label_smoothing,
                "bn_reestimated": config.bn_reestimate,
                "mixed_precision": config.mixed_precision,
                "seconds_per_epoch": float(
                    np.median([h["seconds"] for h in state.history])
                )
                if state.history
                else None,
                "train_digits": len(mnist.x_train),
                "seed": config.seed,
            }

        def current(name: str) -> Path:
            staged = staging / name
            return staged if staged.is_file() else out / name

        models = {name: _load(current(name)) for name in constants.MODEL_FILES}
        if all(m is not None for m in models.values()):
            log(f"calibration: {config.calibration_samples} generated digits")
            cal = calibrate(
                models[constants.GENERATOR_FILE],
                models[constants.READER_FILE],
                models[constants.VERIFIER_FILE],
                config.calibration_samples,
                config.seed + 404,
                config.reader_threshold,
                config.verifier_threshold,
            )
            digits, verdict = cal.pop("_digits"), cal.pop("_verdict")
            meta["calibration"] = cal
            log(
                f"calibration: {cal['pass_rate']:.2%} pass both filters; rarest "
                "label passes "
                f"{min(v['pass_rate'] for v in cal['per_label'].values()):.3%}"
            )
            picks: list[int] = []
            for label in range(constants.NUM_CLASSES):
                picks.extend(
                    np.flatnonzero(verdict.accepted & (verdict.labels == label))[:10]
                )
            if picks:
                idx = np.array(picks)
                report.contact_sheet(
                    digits[idx],
                    verdict.labels[idx],
                    verdict.confidence[idx],
                    staging / constants.SAMPLE_GRID_FILE,
                )

        staged_files = sorted(p.name for p in staging.iterdir())
        for name in staged_files:
            os.replace(staging / name, out / name)
        meta.update(
            {
                "format_version": constants.MODEL_FORMAT_VERSION,
                "gancaptcha_version": __version__,
                "tensorflow_version": tf.__version__,
                "keras_version": keras.__version__,
                "numpy_version": np.__version__,
                "python_version": platform.python_version(),
                "seed": config.seed,
                "data_source": mnist.source,
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
                "files": {
                    name: sha256(out / name)
                    for name in constants.MODEL_FILES
                    if (out / name).is_file()
                },
                "trained_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "run_seconds": round(time.time() - started, 1),
                "config": {
                    k: (str(v) if isinstance(v, Path) else v)
                    for k, v in asdict(config).items()
                    if k != "log"
                },
            }
        )
        _write_json(meta, metadata_path)
        log(
            f"wrote {', '.join(staged_files) or 'nothing new'} and "
            f"{constants.METADATA_FILE} to {out}"
        )
        return meta
    finally:
        shutil.rmtree(staging, ignore_errors=True)
