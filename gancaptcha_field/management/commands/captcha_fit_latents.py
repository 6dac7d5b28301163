"""Internal. Fit the latent bank (latents.npz) for an existing model set."""

from __future__ import annotations

from argparse import ArgumentParser
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from gancaptcha_field import artifacts, constants
from gancaptcha_field.conf import conf
from gancaptcha_field.management.arguments import non_negative_float, positive_int


@dataclass(frozen=True)
class FitLatentsConfig:
    """What captcha_fit_latents was asked to do."""

    model_dir: Path
    samples: int
    per_label: int
    seed: int
    margin: float


class Command(BaseCommand):
    help = (
        "Learn where each digit lives in the generator's noise space from "
        "checked draws and store it as latents.npz beside the models (named, "
        "with its checksum, in metadata.json). Takes minutes; the models and "
        "thresholds are unchanged."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--model-dir",
            type=Path,
            default=None,
            help="The model set to fit (default: GANCAPTCHA_MODEL_DIR).",
        )
        parser.add_argument(
            "--samples",
            type=positive_int,
            default=8192,
            help="Plain N(0, I) draws to start from (8192).",
        )
        parser.add_argument(
            "--per-label",
            type=positive_int,
            default=1000,
            help="Latents kept per label (1000).",
        )
        parser.add_argument(
            "--seed", type=int, default=7, help="Seed for the fitting draws (7)."
        )
        parser.add_argument(
            "--margin",
            type=non_negative_float,
            default=None,
            help="Serving margin ln(top1/top2) to fit for "
            "(default: the serving rule's, GANCAPTCHA_SERVING_RULE).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        model_dir = options["model_dir"] or conf.MODEL_DIR
        if model_dir is None:
            raise CommandError("No model directory: set GANCAPTCHA_MODEL_DIR.")
        rule = artifacts.serving_rule(artifacts.read_metadata_or_empty(Path(model_dir)))
        config = FitLatentsConfig(
            model_dir=Path(model_dir),
            samples=options["samples"],
            per_label=options["per_label"],
            seed=options["seed"],
            margin=rule.margin if options["margin"] is None else options["margin"],
        )
        status = artifacts.inspect_model_dir(config.model_dir)
        if not status.ok:
            hint = " Run `python manage.py train_captcha_models`."
            raise CommandError(
                status.message + (hint if status.code == "missing" else "")
            )
        # The fitting code only once the arguments are known good.
        from gancaptcha_field.supply.models import ModelSet
        from gancaptcha_field.training import latents

        def log(line: str) -> None:
            self.stdout.write(line)
            self.stdout.flush()

        models = ModelSet.load(config.model_dir)
        fit = latents.LatentFitConfig(
            samples=config.samples,
            per_label=config.per_label,
            seed=config.seed,
            reader_threshold=rule.reader_threshold,
            verifier_threshold=rule.verifier_threshold,
            margin=config.margin,
        )
        try:
            bank, figures = latents.fit_latent_bank(models, fit, log)
            digest = latents.write_latent_bank(config.model_dir, bank, figures)
        except (OSError, ValueError) as exc:
            raise CommandError(f"Could not fit the latent bank: {exc}") from exc
        chosen = next(g for g in figures["sigma_grid"] if g["sigma"] == bank.sigma)
        self.stdout.write(
            f"Wrote {config.model_dir / constants.LATENTS_FILE} "
            f"(sha256 {digest[:12]}): "
            f"{sum(bank.sizes().values())} latents, sigma {bank.sigma}; checked "
            f"acceptance {chosen['acceptance']:.3f} per generator pass against "
            f"{figures['plain_acceptance_with_margin']:.3f} for plain noise."
        )
