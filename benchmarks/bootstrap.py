"""The benchmarks' one Django set-up: benchmarks/settings.py in this process.

``django_here`` gives a benchmark Django migrated on a database of its own (a
new SQLite file, a PostgreSQL schema, or both side by side); ``setup`` gives
one that reads settings and models but keeps no rows. Knobs reach the settings
as BENCH_* environment variables, so that server processes started from here
(gunicorn, manage.py) see the same settings.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from benchmarks import postgres

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
SETTINGS = "benchmarks.settings"


def log(message: str, name: str = "bench") -> None:
    print(f"[{name}] {message}", file=sys.stderr, flush=True)


def configure(side: str = "both", **knobs: str) -> None:
    """Point this process (and the ones it starts) at benchmarks.settings.

    ``side``: "both", "ours", "peer" or "none" (benchmarks/settings.py);
    ``knobs``: BENCH_<NAME> values, e.g. DB="sqlite", POOL_SIZE="0".
    """
    os.environ["DJANGO_SETTINGS_MODULE"] = SETTINGS
    os.environ["BENCH_SIDE"] = side
    os.environ.update({f"BENCH_{name}": value for name, value in knobs.items()})


def setup(side: str = "ours", **knobs: str) -> None:
    """Django on benchmarks.settings for settings and models, no rows kept."""
    import django
    from django.apps import apps

    if not apps.ready:
        configure(side, **{"PRELOAD": "0", **knobs})  # models load when asked
        django.setup()


@contextmanager
def sqlite_file(name: str) -> Iterator[Path]:
    """A path for a new SQLite file under benchmarks/results/, removed after."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}-{os.getpid()}.sqlite3"
    try:
        yield path
    finally:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)


@contextmanager
def django_here(
    side: str = "both", db: str = "sqlite", name: str = "bench", **knobs: str
) -> Iterator[str]:
    """Django on benchmarks.settings, migrated on a database of this run's own.

    ``db``: "sqlite", "postgres", "auto" (PostgreSQL if it answers, else
    SQLite), or "both" (SQLite as "default" and, if it answers, PostgreSQL as
    "postgres"). Yields what was chosen.
    """
    import django

    if db == "auto":
        db = "postgres" if postgres.answers() else "sqlite"
    if db == "both" and not postgres.answers():
        log(f"PostgreSQL does not answer ({postgres.CONNINFO!r}): SQLite only")
        db = "sqlite"
    with ExitStack() as stack:
        if db in ("sqlite", "both"):
            knobs["SQLITE"] = str(stack.enter_context(sqlite_file(name)))
        if db in ("postgres", "both"):
            knobs["PG_SCHEMA"] = stack.enter_context(postgres.schema())
        configure(side, DB=db, **knobs)
        django.setup()
        from django.core.management import call_command
        from django.db import connections

        try:
            for alias in connections:
                call_command("migrate", database=alias, verbosity=0)
            yield db
        finally:
            connections.close_all()  # before the schema is dropped
