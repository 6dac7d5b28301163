"""What committing a challenge's use apart from the caller's transaction costs.

    .venv/bin/python -m benchmarks.durable_use [--count 300]

challenges.attempt() on a live challenge, timed three ways in one process, per
database (a SQLite file; PostgreSQL at GC_TEST_POSTGRES when it answers):
outside any transaction (the baseline), inside transaction.atomic() as under
ATOMIC_REQUESTS (the use goes through stores.durably()'s own connection), and
the same with persistent connections (CONN_MAX_AGE=60). Figures are ratios to
the baseline, with the baseline's median in ms. No models needed: challenges
are stored with placeholder images.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from tests import services  # the same PostgreSQL the scale-out tests use

ROOT = Path(__file__).resolve().parent.parent


def _databases(sqlite_path: Path, schema: str | None) -> dict[str, Any]:
    found: dict[str, Any] = {
        "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(sqlite_path)}
    }
    if schema is not None:
        found["postgres"] = services.postgres_settings(schema)
    return found


def _postgres_schema() -> str | None:
    try:
        import psycopg

        with psycopg.connect(
            services.POSTGRES, connect_timeout=3, autocommit=True
        ) as conn:
            schema = f"gc_bench_{os.getpid()}_{secrets.token_hex(3)}"
            conn.execute(f'CREATE SCHEMA "{schema}"')
            return schema
    except Exception as exc:  # ImportError, OperationalError
        print(f"PostgreSQL skipped: {exc}", file=sys.stderr)
        return None


def _drop_schema(schema: str) -> None:
    import psycopg

    with psycopg.connect(services.POSTGRES, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


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
    sys.path.insert(0, str(ROOT))
    schema = _postgres_schema()
    with tempfile.TemporaryDirectory() as tmp:
        import django
        from django.conf import settings

        databases = _databases(Path(tmp) / "bench.sqlite3", schema)
        settings.configure(
            DATABASES=databases,
            DATABASE_ROUTERS=[ToTarget()],
            INSTALLED_APPS=["django.contrib.contenttypes", "gancaptcha_field"],
            USE_TZ=True,
            SECRET_KEY="benchmark-only-not-secret",
            GANCAPTCHA_PRELOAD=False,
            GANCAPTCHA_MODEL_DIR=ROOT / "ml_models",
        )
        django.setup()
        from django.core.management import call_command
        from django.db import connections

        try:
            for alias in databases:
                call_command("migrate", database=alias, verbosity=0)
                ToTarget.target = alias
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
        finally:
            connections.close_all()
            if schema is not None:
                _drop_schema(schema)
    return 0


if __name__ == "__main__":
    sys.exit(main())
