"""What committing a challenge's use apart from the caller's transaction costs.

    .venv/bin/python -m benchmarks.durable_use [--count 300]

challenges.attempt() on a live challenge, timed three ways in one process, per
database (a SQLite file; PostgreSQL at BENCH_POSTGRES when it answers):
outside any transaction (the baseline), inside transaction.atomic() as under
ATOMIC_REQUESTS (the use goes through stores.durably()'s own connection), and
the same with persistent connections (CONN_MAX_AGE=60). Figures are ratios to
the baseline, with the baseline's median in ms. No models needed: challenges
are stored with placeholder images.
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import sys
import time
from datetime import timedelta
from typing import Any

from benchmarks import bootstrap


class ToTarget:
    """Sends the app's tables to TARGET, so attempt() uses that database."""

    target = "default"

    def db_for_read(self, model: Any, **hints: Any) -> str | None:
        return self.target if model._meta.app_label == "gancaptcha_field" else None

    db_for_write = db_for_read


def _time_attempts(alias: str, count: int, atomic: bool) -> list[float]:
    from django.db import transaction
    from django.utils import timezone

    from gancaptcha_field import challenges
    from gancaptcha_field.stores import DatabaseStore, Issued, Rendered

    store = DatabaseStore(using=alias)
    now = timezone.now()
    issued = [
        Issued(secrets.token_urlsafe(24), "1234", now, now + timedelta(minutes=5))
        for _ in range(count)
    ]
    store.save_many([(one, Rendered("1234", b"png", b"png")) for one in issued])
    times = []
    for one in issued:
        start = time.perf_counter()
        if atomic:
            with transaction.atomic(using=alias):
                result = challenges.attempt(one.key, "1234")
        else:
            result = challenges.attempt(one.key, "1234")
        times.append(time.perf_counter() - start)
        assert result.ok, result
    return times


def main() -> int:
    """Print the cost of a durable use against the plain one, per database."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300, help="attempts per run")
    args = parser.parse_args()
    # SQLite as "default" (Django's defaults) and, when it answers,
    # PostgreSQL as "postgres".
    with bootstrap.django_here(
        side="ours", db="both", name="durable-use", SQLITE_PLAIN="1"
    ):
        from django.db import connections, router

        router.routers = [ToTarget()]
        for alias in connections:
            ToTarget.target = alias
            connections.settings[alias]["CONN_MAX_AGE"] = 0
            _time_attempts(alias, 20, atomic=True)  # warm up
            base = _time_attempts(alias, args.count, atomic=False)
            side = _time_attempts(alias, args.count, atomic=True)
            connections.settings[alias]["CONN_MAX_AGE"] = 60
            kept = _time_attempts(alias, args.count, atomic=True)
            connections.settings[alias]["CONN_MAX_AGE"] = 0
            median = statistics.median(base)
            name = connections[alias].vendor
            print(
                f"{name:10s} plain attempt median {median * 1000:.2f} ms = 1.00; "
                f"inside atomic(): {statistics.median(side) / median:.2f}x, "
                f"with CONN_MAX_AGE=60: {statistics.median(kept) / median:.2f}x"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
