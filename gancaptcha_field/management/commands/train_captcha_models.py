"""Train the generator, reader and verifier, and write them for serving."""

from __future__ import annotations

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from gancaptcha_field.conf import conf


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise ValueError(value)
    return number


class Command(BaseCommand):
    help = (
        "Train the DCGAN generator, the reader and the verifier on MNIST and "
        "write them, with metadata.json and a report, to the model directory."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--data",
            default="bundled",
            help="'bundled' (GANCAPTCHA_MODEL_DIR/data/mnist.npz, the default), "
            "'keras' (keras.datasets download) or a path to an mnist.npz file.",
        )
        parser.add_argument(
            "--output-dir",
            type=Path,
            default=None,
            help="Where the models go (default: GANCAPTCHA_MODEL_DIR).",
        )
        parser.add_argument(
            "--checkpoint-dir",
            type=Path,
            default=None,
            help="GAN checkpoints for --resume (default: OUTPUT_DIR/checkpoints).",
        )
        parser.add_argument(
            "--seed",
            type=int,
            default=0,
            help="Seed for data order, noise and weights (0).",
        )
        parser.add_argument(
            "--limit",
            type=_positive,
            default=None,
            help="Train on only N training digits (quick runs).",
        )
        parser.add_argument(
            "--batch-size", type=_positive, default=256, help="GAN batch size (256)."
        )
        parser.add_argument(
            "--gan-epochs",
            type=_positive,
            default=100,
            help="GAN epochs in all, counting resumed ones (100).",
        )
        parser.add_argument(
            "--reader-epochs", type=_positive, default=10, help="Reader epochs (10)."
        )
        parser.add_argument(
            "--verifier-epochs", type=_positive, default=6, help="Verifier epochs (6)."
        )
        parser.add_argument(
            "--skip-gan", action="store_true", help="Keep the existing generator."
        )
        parser.add_argument(
            "--skip-reader", action="store_true", help="Keep the existing reader."
        )
        parser.add_argument(
            "--skip-verifier", action="store_true", help="Keep the existing verifier."
        )
        parser.add_argument(
            "--resume",
            action="store_true",
            help="Continue the GAN from its last checkpoint.",
        )
        parser.add_argument(
            "--label-smoothing",
            type=float,
            default=0.0,
            help="One-sided label smoothing of real targets (0.0, the seed's).",
        )
        parser.add_argument(
            "--d-lr-ratio",
            type=float,
            default=1.0,
            help="Discriminator learning rate as a multiple of the generator's "
            "1e-4 (1.0, the seed's).",
        )
        parser.add_argument(
            "--no-bn-reestimate",
            action="store_true",
            help="Skip re-estimating the generator's BatchNorm statistics.",
        )
        parser.add_argument(
            "--mixed-precision",
            action="store_true",
            help="Train the GAN in bfloat16 with float32 weights (faster on CPUs "
            "with AVX512-BF16/AMX); the saved generator is float32.",
        )
        parser.add_argument(
            "--calibration-samples",
            type=_positive,
            default=20000,
            help="Generated digits used to measure the filters (20000).",
        )
        parser.add_argument(
            "--strategy",
            choices=["default", "mirrored"],
            default="default",
            help="tf.distribute strategy for the GAN (default: one device).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        # Imported here: TensorFlow is paid for only when training runs.
        from gancaptcha_field.training.pipeline import (
            TrainingConfig,
            TrainingError,
            run,
        )

        output_dir = options["output_dir"] or conf.MODEL_DIR
        if output_dir is None:
            raise CommandError(
                "No output directory: set GANCAPTCHA_MODEL_DIR or pass --output-dir."
            )
        config = TrainingConfig(
            output_dir=Path(output_dir),
            checkpoint_dir=options["checkpoint_dir"]
            or Path(output_dir) / "checkpoints",
            data=options["data"],
            model_dir=conf.MODEL_DIR,
            seed=options["seed"],
            limit=options["limit"],
            batch_size=options["batch_size"],
            gan_epochs=options["gan_epochs"],
            reader_epochs=options["reader_epochs"],
            verifier_epochs=options["verifier_epochs"],
            skip_gan=options["skip_gan"],
            skip_reader=options["skip_reader"],
            skip_verifier=options["skip_verifier"],
            resume=options["resume"],
            label_smoothing=options["label_smoothing"],
            d_lr_ratio=options["d_lr_ratio"],
            bn_reestimate=not options["no_bn_reestimate"],
            calibration_samples=options["calibration_samples"],
            reader_threshold=conf.READER_THRESHOLD,
            verifier_threshold=conf.VERIFIER_THRESHOLD,
            strategy=options["strategy"],
            mixed_precision=options["mixed_precision"],
            log=lambda message: (self.stdout.write(message), self.stdout.flush()),
        )
        try:
            run(config)
        except TrainingError as exc:
            raise CommandError(str(exc)) from exc
