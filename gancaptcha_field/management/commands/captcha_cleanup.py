"""Internal. Delete expired CAPTCHA challenges (run it from cron)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.utils import timezone

from gancaptcha_field import challenges
from gancaptcha_field.management import require_tables


class Command(BaseCommand):
    """Purge expired challenges, in bounded batches, and report how many went."""

    help = "Delete expired CAPTCHA challenges."

    def handle(self, *args: Any, **options: Any) -> None:
        """Purge batch after batch until none is left, and report."""
        require_tables()
        now = timezone.now()
        total = 0
        # Each call deletes a bounded batch in a short statement of its own, so
        # the table is never locked for one long DELETE.
        while count := challenges.purge_expired(now):
            total += count
        self.stdout.write(f"Deleted {total} expired challenge(s).")
