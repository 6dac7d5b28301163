"""One process of the PostgreSQL race in test_security.py (not a test module).

``python tests/race_worker.py SCHEMA migrate`` sets the schema up,
``... SCHEMA seed KEY ANSWER`` stores a live challenge,
``... SCHEMA race KEY ANSWER`` connects, prints ``ready``, waits for a line on
stdin, verifies once and prints the outcome code, and
``... verify KEY ANSWER...`` verifies each answer in turn without waiting.
"""

from __future__ import annotations

import sys
from pathlib import Path

import django
from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent


def configure(schema: str) -> None:
    """Settings for ``schema`` in the PostgreSQL test database (tests/services.py)."""
    from tests import services

    settings.configure(
        DATABASES={"default": services.postgres_settings(schema)},
        INSTALLED_APPS=[
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "gancaptcha_field",
        ],
        USE_TZ=True,
        GANCAPTCHA_MODEL_DIR=ROOT / "ml_models",
        GANCAPTCHA_PRELOAD=False,
    )
    django.setup()


def main(argv: list[str]) -> int:
    """Run one step; the exit status says whether it ran."""
    schema, mode = argv[1], argv[2]
    configure(schema)
    if mode == "migrate":
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        return 0
    from datetime import timedelta

    from django.db import connection
    from django.utils import timezone

    from gancaptcha_field import challenges
    from gancaptcha_field.models import Challenge

    key, answer = argv[3], argv[4]
    if mode == "seed":
        now = timezone.now()
        Challenge.objects.create(
            key=key,
            answer=answer,
            png=b"",
            created_at=now,
            expires_at=now + timedelta(minutes=5),
        )
        return 0
    connection.ensure_connection()  # connect first, then race
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    if mode == "race":
        sys.stdin.readline()
    for attempt in argv[4:] if mode == "verify" else [answer]:
        sys.stdout.write(challenges.verify(key, attempt).code.value + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main(sys.argv))
