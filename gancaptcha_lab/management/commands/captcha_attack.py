"""Run the attacker lab and print its one table (gancaptcha_lab/attack.py)."""

from __future__ import annotations

import json
from argparse import ArgumentParser, ArgumentTypeError
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from gancaptcha_field import constants
from gancaptcha_field.conf import conf
from gancaptcha_field.management import require_tables
from gancaptcha_field.management.arguments import positive_int

DEFAULT_CACHE = Path.home() / ".cache" / "gancaptcha-lab"


def _counts(value: str) -> tuple[int, ...]:
    if not value.strip():
        return ()
    return tuple(positive_int(part) for part in value.split(","))


def _names(value: str) -> tuple[str, ...]:
    """Comma-separated attacker names (checked by the lab, which knows them)."""
    names = tuple(part.strip() for part in value.split(",") if part.strip())
    if not names:
        raise ArgumentTypeError("name at least one attacker")
    return names


class Command(BaseCommand):
    """Thin adapter: flags to a BatteryConfig, the table to stdout."""

    help = (
        "The attacker lab: stock MNIST classifiers (best preprocessing and "
        "segmentation each), a robust one, an adaptive one trained on N labelled "
        "challenges and a self-labelling one solve challenges end to end from the "
        "PNG as served, through GanCaptchaField. Prints one table."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--challenges",
            "--count",  # the name before the battery
            type=positive_int,
            default=None,
            help="Test challenges every attacker answers (500; 12 with --quick).",
        )
        parser.add_argument(
            "--calibration",
            type=positive_int,
            default=None,
            help="Labelled challenges for choosing combinations (50; 6 with --quick).",
        )
        parser.add_argument(
            "--adaptive",
            type=_counts,
            default=None,
            help="Comma-separated label counts for the adaptive attacker "
            "(25,250,2500; 2,4 with --quick; empty for none).",
        )
        parser.add_argument(
            "--self-labelled",
            type=positive_int,
            default=None,
            help="Synthetic challenges the self-labelling attacker makes "
            "(2500; 20 with --quick).",
        )
        parser.add_argument(
            "--seed", type=int, default=1, help="Seed of every attacker model (1)."
        )
        parser.add_argument(
            "--quick",
            action="store_true",
            help="Tiny models on 2000 MNIST digits and few challenges (tests).",
        )
        parser.add_argument(
            "--cache-dir",
            type=Path,
            default=DEFAULT_CACHE,
            help=f"Attacker models and the challenge bank ({DEFAULT_CACHE}).",
        )
        parser.add_argument(
            "--bank-dir",
            type=Path,
            default=None,
            help="Labelled challenges drawn ahead (default: a bank per models and "
            "renderer under --cache-dir); drawn when short.",
        )
        parser.add_argument(
            "--json", type=Path, default=None, help="Also write the report here."
        )
        parser.add_argument(
            "--markdown", type=Path, default=None, help="Also write the table here."
        )
        parser.add_argument(
            "--no-reading",
            action="store_true",
            help="Measure the way through without reading instead: Chromium's "
            "wait and a native solver's CPU per pass at the default difficulty, "
            "and what a perfect bot gets through each way in, per address, in a "
            "simulated hour at the default rate limits (lab/no_reading.py). "
            "--challenges sets the solves per figure (12).",
        )
        parser.add_argument(
            "--audio",
            action="store_true",
            help="Attack the audio instead: template matching (ncc, dtw) and file "
            "size against --challenges (100) per language, end to end through "
            "the audio view and a form (lab/audio.py).",
        )
        parser.add_argument(
            "--audio-attackers",
            type=_names,
            default=None,
            help="With --audio: which attackers, comma-separated (ncc,dtw,size); "
            "pocketsphinx is the off-the-shelf recogniser (English; "
            "requirements-bench.txt); trained-N trains a recogniser on N files "
            "of our renderer (lab/recogniser.py), e.g. trained-1000,trained-10000.",
        )
        parser.add_argument(
            "--audio-languages",
            type=_names,
            default=None,
            help="With --audio: which voices, comma-separated (en,es).",
        )
        parser.add_argument(
            "--audio-clean",
            action="store_true",
            help="With --audio: also read clean files offline (the served digits "
            "without babble or noise, and the shipped clips as they are).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        """Run the battery and print the table."""
        from gancaptcha_lab import attack

        if options["no_reading"]:
            self._no_reading(options)
            return
        if options["audio"]:
            from gancaptcha_lab import audio

            require_tables()
            count = options["challenges"]
            config = audio.AudioAttackConfig(
                count=count if count is not None else (4 if options["quick"] else 100),
                json_path=options["json"],
                cache_dir=options["cache_dir"],
                clean=options["audio_clean"],
                **(
                    {"attackers": options["audio_attackers"]}
                    if options["audio_attackers"]
                    else {}
                ),
                **(
                    {"languages": options["audio_languages"]}
                    if options["audio_languages"]
                    else {}
                ),
            )
            try:
                report = audio.run(config, self.stdout.write)
            except audio.AudioAttackError as exc:
                raise CommandError(str(exc)) from exc
            self.stdout.write(audio.format_table(report))
            return
        model_dir = conf.MODEL_DIR
        if model_dir is None:
            raise CommandError("GANCAPTCHA_MODEL_DIR is not configured.")
        require_tables()  # before any model trains for minutes
        quick = options["quick"]

        def pick(name: str, full: Any, small: Any) -> Any:
            value = options[name]
            return value if value is not None else (small if quick else full)

        battery = attack.BatteryConfig(
            cache_dir=options["cache_dir"],
            mnist_path=model_dir / constants.BUNDLED_DATA_FILE,
            challenges=pick("challenges", 500, 12),
            calibration=pick("calibration", 50, 6),
            adaptive=pick("adaptive", (25, 250, 2500), (2, 4)),
            self_labelled=pick("self_labelled", 2500, 20),
            seed=options["seed"],
            quick=quick,
            bank_dir=options["bank_dir"],
            json_path=options["json"],
            markdown_path=options["markdown"],
        )
        if not battery.mnist_path.is_file():
            raise CommandError(f"MNIST is missing: {battery.mnist_path}")
        try:
            report = attack.run(battery, self.stdout.write)
        except attack.AttackError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(attack.format_table(report))
        for path in (battery.json_path, battery.markdown_path):
            if path is not None:
                self.stdout.write(f"Wrote {path}")

    def _no_reading(self, options: dict[str, Any]) -> None:
        from gancaptcha_lab import no_reading
        from gancaptcha_lab.attack import write_text

        require_tables()
        count = options["challenges"] or (2 if options["quick"] else 12)
        report = no_reading.measure(
            attempts=count,
            browser_attempts=count,
            minutes=5.0 if options["quick"] else 60.0,
        )
        table = no_reading.format_markdown(report)
        if options["json"] is not None:
            write_text(options["json"], json.dumps(report, indent=2) + "\n")
        if options["markdown"] is not None:
            write_text(options["markdown"], table)
        self.stdout.write(table)
