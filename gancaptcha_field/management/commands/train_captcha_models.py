"""Internal. Train the generator, reader and verifier, and write them for serving."""

from __future__ import annotations

import dataclasses
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from gancaptcha_field import artifacts
from gancaptcha_field.conf import conf
from gancaptcha_field.management.arguments import positive_int

# Whole-number flags: (flag, default, help).
COUNTS: list[tuple[str, int | None, str]] = [
    ("--limit", None, "Train on only N training digits (quick runs)."),
    ("--batch-size", 256, "GAN batch size (256)."),
    ("--gan-epochs", 100, "GAN epochs in all, counting resumed ones (100)."),
    ("--reader-epochs", 10, "Reader epochs (10)."),
    ("--verifier-epochs", 6, "Verifier epochs (6)."),
    (
        "--calibration-samples",
        20000,
        "Generated digits used to measure the filters (20000).",
    ),
]
# On/off flags: (flag, help).
SWITCHES = [
    ("--skip-gan", "Keep the existing generator."),
    ("--skip-reader", "Keep the existing reader."),
    ("--skip-verifier", "Keep the existing verifier."),
    ("--resume", "Continue the GAN from its last checkpoint."),
    ("--no-bn-reestimate", "Skip re-estimating the generator's BatchNorm statistics."),
    (
        "--mixed-precision",
        "Train the GAN in bfloat16 with float32 weights (faster on CPUs with "
        "AVX512-BF16/AMX); the saved generator is float32.",
    ),
]


class Command(BaseCommand):
    help = (
        "Train the DCGAN generator, the reader and the verifier on MNIST and "
        "write them (.keras, and the .onnx files serving runs, checked against "
        "Keras), with metadata.json and a report, to the model directory."
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
        for flag, default, text in COUNTS:
            parser.add_argument(flag, type=positive_int, default=default, help=text)
        for flag, text in SWITCHES:
            parser.add_argument(flag, action="store_true", help=text)
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
            "--strategy",
            choices=["default", "mirrored"],
            default="default",
            help="tf.distribute strategy for the GAN (default: one device).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        """Build a TrainingConfig from the flags and run the pipeline."""
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
        # A terminal gets a bar redrawn in place; a log gets a line now and then.
        tty = self.stdout.isatty()
        # Flags named like a TrainingConfig field pass straight through.
        fields = {f.name for f in dataclasses.fields(TrainingConfig)}
        same = fields & options.keys() - {"output_dir", "checkpoint_dir"}
        rule = artifacts.serving_rule()
        config = TrainingConfig(
            **{name: options[name] for name in same},
            output_dir=Path(output_dir),
            checkpoint_dir=options["checkpoint_dir"]
            or Path(output_dir) / "checkpoints",
            model_dir=conf.MODEL_DIR,
            bn_reestimate=not options["no_bn_reestimate"],
            # The rule the new set will record: the defaults, or
            # GANCAPTCHA_SERVING_RULE's (not the old set's, which it replaces).
            reader_threshold=rule.reader_threshold,
            verifier_threshold=rule.verifier_threshold,
            progress_seconds=0.5 if tty else 30.0,
            log=self._line,
            warn=lambda message: self.stderr.write(self.style.WARNING(message)),
            progress=lambda p: self._bar(p.render(), p.finished, tty),
        )
        try:
            run(config)
        except TrainingError as exc:
            raise CommandError(str(exc)) from exc

    def _line(self, message: str) -> None:
        self.stdout.write(message)
        self.stdout.flush()

    def _bar(self, text: str, finished: bool, tty: bool) -> None:
        if tty:
            # Redrawn in place; the epoch's summary line follows the last one.
            self.stdout.write("\r" + text, ending="\n" if finished else "")
            self.stdout.flush()
        else:
            self._line(text)
