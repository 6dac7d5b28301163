"""Measure how well outside classifiers solve real challenges (attack.py)."""

from __future__ import annotations

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from gancaptcha_field.conf import conf
from gancaptcha_field.management import require_tables
from gancaptcha_field.management.arguments import positive_int


class Command(BaseCommand):
    """Thin adapter: flags to an AttackConfig, the figures to stdout."""

    help = (
        "Issue N real challenges and read each PNG alone with an independent "
        "MNIST classifier (the judge) and with the shipped reader; print the "
        "share solved end to end, per-digit accuracy and the random-guess rate."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--count",
            type=positive_int,
            default=1000,
            help="Challenges to issue (1000).",
        )
        parser.add_argument(
            "--judge",
            type=Path,
            default=None,
            help="The judge model (.keras); trained there on first use. "
            "Default: .cache/judge.keras beside GANCAPTCHA_MODEL_DIR.",
        )
        parser.add_argument(
            "--reader",
            type=Path,
            default=None,
            help="The reader an attacker holding our files would use. "
            "Default: GANCAPTCHA_MODEL_DIR/reader.keras (skipped if absent).",
        )
        parser.add_argument(
            "--data",
            default="bundled",
            help="MNIST for training the judge: bundled, keras or a path (bundled).",
        )
        parser.add_argument(
            "--json", type=Path, default=None, help="Also write the figures here."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        """Run the attack and print the table."""
        from gancaptcha_field.lab import attack

        model_dir = conf.MODEL_DIR
        if model_dir is None:
            raise CommandError("GANCAPTCHA_MODEL_DIR is not configured.")
        require_tables()  # before the judge, which may take minutes to train
        config = attack.AttackConfig(
            count=options["count"],
            judge_path=options["judge"],
            reader_path=options["reader"],
            data=options["data"],
            json_path=options["json"],
        )
        try:
            report = attack.run(config, model_dir, self.stdout.write)
        except attack.AttackError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(attack.format_table(report))
        if config.json_path is not None:
            self.stdout.write(f"Wrote {config.json_path}")
