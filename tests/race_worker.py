"""The PostgreSQL races of test_security.py, in their own process (not a test).

``python tests/race_worker.py SCHEMA migrate`` sets the schema up.
``... SCHEMA race KEY ANSWER N`` stores a live challenge, forks N processes
that each connect, wait at a barrier and then verify the right answer at
once, prints their outcome codes, then one more for a replay.
``... SCHEMA sequence KEY ANSWER TRY...`` stores a live challenge and verifies
each TRY in turn, printing the codes.
Forking after Django is set up spares each racer the imports, so they are
ready together even on a loaded machine.
"""

from __future__ import annotations

import multiprocessing
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

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
        SECRET_KEY="race-worker-not-secret",  # answers are sealed with it
        GANCAPTCHA_MODEL_DIR=ROOT / "ml_models",
        GANCAPTCHA_PRELOAD=False,
    )
    django.setup()


def _race(key: str, answer: str, barrier: Any, results: Any) -> None:
    from django.db import connection

    from gancaptcha_field import challenges

    try:
        connection.ensure_connection()  # connect first, then race
        barrier.wait(timeout=120)
        results.put(challenges.attempt(key, answer).code.value)
    except BaseException as exc:  # reported by the parent
        results.put(f"error: {exc!r}")
    finally:
        connection.close()


def main(argv: list[str]) -> int:
    """Run one step and print its outcome codes, one a line."""
    schema, mode = argv[1], argv[2]
    configure(schema)
    if mode == "migrate":
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        return 0
    from django.db import connections
    from django.utils import timezone

    from gancaptcha_field import challenges, sealing
    from gancaptcha_field.models import Challenge

    key, answer = argv[3], argv[4]
    now = timezone.now()
    Challenge.objects.create(
        key=key,
        answer=sealing.seal(answer),
        png=b"",
        created_at=now,
        expires_at=now + timedelta(minutes=5),
    )
    if mode == "sequence":
        outcomes = [challenges.attempt(key, attempt).code.value for attempt in argv[5:]]
    else:
        count = int(argv[5])
        # Children must not share the parent's socket to PostgreSQL.
        connections.close_all()
        context = multiprocessing.get_context("fork")
        barrier, results = context.Barrier(count), context.Queue()
        racers = [
            context.Process(target=_race, args=(key, answer, barrier, results))
            for _ in range(count)
        ]
        for racer in racers:
            racer.start()
        outcomes = [results.get(timeout=300) for _ in racers]
        for racer in racers:
            racer.join(timeout=60)
        outcomes.append(challenges.attempt(key, answer).code.value)  # a replay
    sys.stdout.write("".join(f"{outcome}\n" for outcome in outcomes))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main(sys.argv))
