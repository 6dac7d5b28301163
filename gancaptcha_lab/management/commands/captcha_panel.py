"""The blind reading panel: draw numbered sheets with a sealed key, or score readers."""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import json
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from gancaptcha_field import artifacts
from gancaptcha_field.conf import conf
from gancaptcha_field.management.arguments import positive_int


class Command(BaseCommand):
    help = (
        "draw: N challenges from this site's configuration as numbered sheets of "
        "the served 1x PNG, the answers in a separate key.json. score: each "
        "reader's transcription (readers/*.txt) against the key, with 95% "
        "intervals and the trap. Protocol: docs/panel.md."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        draw = sub.add_parser("draw", help="Write sheets, manifest and key.")
        draw.add_argument("directory", type=Path, help="A new panel directory.")
        draw.add_argument(
            "--count", type=positive_int, default=100, help="Challenges (100)."
        )
        draw.add_argument(
            "--per-sheet", type=positive_int, default=20, help="Rows a sheet (20)."
        )
        draw.add_argument(
            "--design",
            default="",
            help="A name for what was drawn, kept in the manifest (never on a sheet).",
        )
        score = sub.add_parser("score", help="Score readers/*.txt against the key.")
        score.add_argument("directory", type=Path, help="The panel directory.")
        score.add_argument(
            "--json", type=Path, default=None, help="Also write the figures here."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        from gancaptcha_lab import panel

        directory: Path = options["directory"]
        try:
            if options["action"] == "draw":
                self._draw(panel, directory, options)
                return
            report = panel.score_panel(directory)
        except panel.PanelError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(panel.format_report(report))
        if options["json"] is not None:
            try:
                with artifacts.atomic_path(options["json"]) as tmp:
                    tmp.write_text(json.dumps(report, indent=1) + "\n")
            except OSError as exc:
                raise CommandError(
                    f"Could not write {options['json']}: {exc}"
                ) from None
            self.stdout.write(f"Wrote {options['json']}")

    def _draw(self, panel: Any, directory: Path, options: dict[str, Any]) -> None:
        from gancaptcha_field.supply import harden, registry, render

        panel.check_new(directory)  # before minutes of drawing
        status = registry.get_registry().load()
        if not status.ok:
            raise CommandError(
                f"{status.message} Run `python manage.py train_captcha_models`."
            )
        count: int = options["count"]
        self.stdout.write(f"Drawing {count} challenges ...")
        try:
            challenges = panel.draw_challenges(count)
        except registry.CaptchaUnavailable as exc:
            raise CommandError(f"Could not draw the challenges: {exc}") from exc
        # The renderer's code, so a panel names exactly what its readers saw.
        source = inspect.getsource(harden) + inspect.getsource(render)
        about = {
            "renderer_sha256": hashlib.sha256(source.encode()).hexdigest(),
            "design": options["design"],
            "harden": conf.HARDEN,
            "trap": conf.TRAP,
            "image_scale": conf.IMAGE_SCALE,
            "layout": dataclasses.asdict(harden.LAYOUT) if conf.HARDEN else "plain",
            "models": artifacts.checksums(conf.MODEL_DIR) if conf.MODEL_DIR else {},
        }
        sheets = panel.write_panel(directory, challenges, options["per_sheet"], about)
        self.stdout.write(
            f"Wrote {len(sheets)} sheets, {directory / panel.MANIFEST_FILE} and "
            f"{directory / panel.KEY_FILE} (keep the key from the readers)."
        )
