"""The benchmarks' one PostgreSQL convention: where it is, and a schema per run.

BENCH_POSTGRES (a libpq conninfo string) points elsewhere than a development
machine's server. A run works in a fresh schema of its own, dropped when it
ends, so that runs never see each other's rows. Stdlib only at import time:
benchmarks/settings.py reads it.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

DEFAULTS = {
    "host": "127.0.0.1",
    "port": "5432",
    "user": "postgres",
    "password": "",
    "dbname": "test",
}
CONNINFO = os.environ.get(
    "BENCH_POSTGRES", "host=127.0.0.1 port=5432 user=postgres dbname=test"
)


def params() -> dict[str, str]:
    """CONNINFO as keyword arguments (host, port, user, dbname, ...)."""
    return dict(pair.split("=", 1) for pair in CONNINFO.split())


def answers() -> bool:
    """Whether PostgreSQL accepts a connection (psycopg installed, server up)."""
    try:
        import psycopg

        psycopg.connect(CONNINFO, connect_timeout=2).close()
    except Exception:  # ImportError, OperationalError
        return False
    return True


@contextmanager
def schema() -> Iterator[str]:
    """A fresh schema, dropped afterwards (close Django's connections first)."""
    import psycopg

    name = f"gc_bench_{os.getpid()}_{secrets.token_hex(3)}"
    with psycopg.connect(CONNINFO, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
        try:
            yield name
        finally:
            conn.execute(f'DROP SCHEMA "{name}" CASCADE')


def database(schema_name: str) -> dict[str, Any]:
    """A DATABASES entry for ``schema_name``."""
    found = {**DEFAULTS, **params()}
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": found["dbname"],
        **{key.upper(): found[key] for key in ("user", "password", "host", "port")},
        "CONN_MAX_AGE": 60,
        "OPTIONS": {"options": f"-c search_path={schema_name}"},
    }
