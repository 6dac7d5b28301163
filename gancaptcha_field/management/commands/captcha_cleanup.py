"""Delete expired CAPTCHA challenges (run it from cron)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from gancaptcha_field import challenges
from gancaptcha_field.management import require_tables


class Command(BaseCommand):
    """Purge expired challenges and report how many went."""

    help = "Delete expired CAPTCHA challenges."

    def handle(self, *args: Any, **options: Any) -> None:
        """Purge and report."""
        require_tables()
        count = challenges.purge_expired()
        self.stdout.write(f"Deleted {count} expired challenge(s).")
