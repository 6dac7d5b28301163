"""Internal. Fill the pre-rendered challenge pool, once or continuously (--watch)."""

from __future__ import annotations

import threading
import time
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from gancaptcha_field.conf import conf
from gancaptcha_field.management import require_tables
from gancaptcha_field.management.arguments import positive_float, positive_int
from gancaptcha_field.supply import pool, registry


class Command(BaseCommand):
    help = (
        "Draw challenges ahead of time into the shared pool until it holds "
        "--size of them; with --watch, keep it there until stopped."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--size",
            type=positive_int,
            default=None,
            help="How many challenges the pool should hold "
            "(default: GANCAPTCHA_POOL['size']).",
        )
        parser.add_argument(
            "--batch",
            type=positive_int,
            default=None,
            help="Challenges drawn and written per batch "
            "(default: GANCAPTCHA_POOL['batch']).",
        )
        parser.add_argument(
            "--watch",
            action="store_true",
            help="Keep refilling until interrupted (a producer process).",
        )
        parser.add_argument(
            "--interval",
            type=positive_float,
            default=1.0,
            help="With --watch: seconds between looks at the pool (1.0).",
        )
        parser.add_argument(
            "--clear",
            action="store_true",
            help="Empty the pool first (after retraining or a new image scale).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        target: int = options["size"] or conf.POOL["size"]
        if target < 1:
            raise CommandError(
                "No pool size: set GANCAPTCHA_POOL['size'] or pass --size."
            )
        require_tables()
        if options["clear"]:
            self.stdout.write(f"Removed {pool.clear()} pooled challenge(s).")
        status = registry.get_registry().status()
        if not status.ok:
            raise CommandError(
                f"{status.message} Run `python manage.py train_captcha_models`."
            )

        def progress(made: int, size: int) -> None:
            self.stdout.write(f"{made} challenge(s) drawn (pool size {size})")
            self.stdout.flush()

        if not options["watch"]:
            started = time.monotonic()
            try:
                made = pool.fill(target, options["batch"], progress=progress)
            except registry.CaptchaUnavailable as exc:
                raise CommandError(f"Could not draw challenges: {exc}") from exc
            seconds = time.monotonic() - started
            rate = f" in {seconds:.1f} s ({made / seconds:.1f}/s)" if made else ""
            self.stdout.write(
                f"Pool holds {pool.size()} challenge(s); drew {made} new{rate}."
            )
            return
        self.stdout.write(f"Keeping the pool at {target} challenge(s); Ctrl-C to stop.")
        stop = threading.Event()
        try:
            pool.watch(target, options["interval"], stop, options["batch"], progress)
        except KeyboardInterrupt:
            stop.set()
        self.stdout.write("Stopped.")
