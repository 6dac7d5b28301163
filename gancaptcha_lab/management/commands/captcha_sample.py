"""Write digits exactly as the app serves them, for inspection and measurement."""

from __future__ import annotations

import secrets
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

import numpy as np

from django.core.management.base import BaseCommand, CommandError

from gancaptcha_field import artifacts, constants
from gancaptcha_field.conf import conf
from gancaptcha_field.management.arguments import positive_int
from gancaptcha_field.supply import registry
from gancaptcha_field.supply.render import served_strips


class Command(BaseCommand):
    help = (
        "Draw N digits as the app serves them (labels uniform, both filters "
        "applied) and write images (= clean_images, as drawn), labels, both "
        "classifiers' confidence, and served: each four digits as the 1x PNG "
        "shows them (hardened when GANCAPTCHA_HARDEN is on), to an .npz file."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--count", type=positive_int, default=1000, help="How many digits (1000)."
        )
        parser.add_argument(
            "--output", type=Path, required=True, help="The .npz file to write."
        )
        parser.add_argument(
            "--sheet",
            type=Path,
            default=None,
            help="Also write a contact sheet PNG of the first 100.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        output: Path = options["output"]
        count: int = options["count"]
        reg = registry.get_registry()
        status = reg.load()
        if not status.ok:
            raise CommandError(
                f"{status.message} Run `python manage.py train_captcha_models`."
            )
        labels = np.array(
            [secrets.randbelow(constants.NUM_CLASSES) for _ in range(count)], np.uint8
        )
        images, confidence, verifier_confidence = [], [], []
        chunk = 256
        try:
            for start in range(0, count, chunk):
                got, reader_values, verifier_values = reg.draw_with_details(
                    labels[start : start + chunk]
                )
                images.append(got)
                confidence.append(reader_values)
                verifier_confidence.append(verifier_values)
                if count > chunk:
                    self.stdout.write(f"{min(start + chunk, count)}/{count} digits")
        except registry.CaptchaUnavailable as exc:
            raise CommandError(f"Could not draw digits: {exc}") from exc
        all_images = np.concatenate(images)
        all_confidence = np.concatenate(confidence).astype(np.float32)
        # Whole challenges of these digits, as a visitor's 1x PNG shows them.
        whole = count - count % constants.ANSWER_LENGTH
        served = served_strips(all_images[:whole], conf.IMAGE_SCALE)
        output.parent.mkdir(parents=True, exist_ok=True)
        with artifacts.atomic_path(output) as tmp, open(tmp, "wb") as fh:
            np.savez_compressed(
                fh,
                images=all_images,
                labels=labels,
                confidence=all_confidence,
                verifier_confidence=np.concatenate(verifier_confidence),
                clean_images=all_images,
                served=served,
                served_answers=labels[:whole].reshape(-1, constants.ANSWER_LENGTH),
            )
        self.stdout.write(f"Wrote {count} digits to {output}")
        if options["sheet"] is not None:
            from gancaptcha_field.training.sheets import contact_sheet

            n = min(100, count)
            order = np.argsort(labels[:n], kind="stable")
            contact_sheet(
                all_images[:n][order],
                labels[:n][order],
                all_confidence[:n][order],
                options["sheet"],
            )
            self.stdout.write(
                f"Wrote a contact sheet of {n} digits to {options['sheet']}"
            )
