"""Internal. Export an existing model set to ONNX, the files serving runs."""

from __future__ import annotations

from argparse import ArgumentParser
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from gancaptcha_field import artifacts, constants
from gancaptcha_field.conf import conf


@dataclass(frozen=True)
class ExportConfig:
    """What captcha_export_onnx was asked to do."""

    model_dir: Path
    reader_threshold: float
    verifier_threshold: float
    margin: float


class Command(BaseCommand):
    help = (
        "Write generator.onnx, reader.onnx and verifier.onnx beside the .keras "
        "files of a model set (one trained before serving ran ONNX Runtime), "
        "check them against Keras on a fixed batch and record their checksums "
        "in metadata.json. Needs the [train] extra (TensorFlow, tf2onnx); the "
        "models themselves are unchanged."
    )

    # It repairs what the model checks report; they must not stop it.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--model-dir",
            type=Path,
            default=None,
            help="The model set to export (default: GANCAPTCHA_MODEL_DIR).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        """Build an ExportConfig from the flags and export the set."""
        model_dir = options["model_dir"] or conf.MODEL_DIR
        if model_dir is None:
            raise CommandError(
                "No model directory: set GANCAPTCHA_MODEL_DIR or pass --model-dir."
            )
        # The rule the set records (and GANCAPTCHA_SERVING_RULE) is the one
        # whose verdicts the export must keep.
        rule = artifacts.serving_rule(artifacts.read_metadata_or_empty(Path(model_dir)))
        config = ExportConfig(
            model_dir=Path(model_dir),
            reader_threshold=rule.reader_threshold,
            verifier_threshold=rule.verifier_threshold,
            margin=rule.margin,
        )
        try:
            # Training code (TensorFlow, tf2onnx): only the [train] extra has it.
            from gancaptcha_field.training import export
        except ImportError as exc:
            raise CommandError(
                f"Exporting needs TensorFlow and tf2onnx ({exc}): "
                "pip install 'gancaptcha-field[train]'."
            ) from exc
        try:
            section = export.export_model_dir(
                config.model_dir,
                config.reader_threshold,
                config.verifier_threshold,
                config.margin,
                log=self._line,
            )
        except (export.ExportError, OSError, ValueError) as exc:
            raise CommandError(f"Could not export {config.model_dir}: {exc}") from exc
        worst = max(section["parity"]["max_abs_diff"].values())
        self.stdout.write(
            f"Wrote {', '.join(constants.ONNX_FILES)} to {config.model_dir} "
            f"(opset {section['opset']}; largest difference from Keras "
            f"{worst:.2g}) and their checksums to {constants.METADATA_FILE}."
        )

    def _line(self, message: str) -> None:
        self.stdout.write(message)
        self.stdout.flush()
