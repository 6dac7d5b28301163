"""PostgreSQL and Redis for the scale-out tests: found, or skipped (failed in CI);
and the ports and server processes that tests and benchmarks start.

The defaults are the services of a development machine; GC_TEST_POSTGRES (a
libpq conninfo string) and GC_TEST_REDIS (a redis:// URL) point elsewhere.
Every test works in its own PostgreSQL schema and under its own Redis key
prefix, so parallel runs never see each other's rows.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

POSTGRES = os.environ.get(
    "GC_TEST_POSTGRES", "host=127.0.0.1 port=5432 user=postgres dbname=test"
)
REDIS = os.environ.get("GC_TEST_REDIS", "redis://127.0.0.1:6379/0")


def _unreachable(what: str, exc: BaseException) -> None:
    import pytest  # here: server processes import this module too

    message = f"{what} does not answer ({type(exc).__name__}: {exc})"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message}; CI needs it for the scale-out tests", pytrace=False)
    pytest.skip(f"{message}: scale-out test skipped (CI=true makes this a failure)")


def postgres_params() -> dict[str, str]:
    """POSTGRES as keyword arguments (host, port, user, dbname, ...)."""
    from psycopg.conninfo import conninfo_to_dict

    return {k: str(v) for k, v in conninfo_to_dict(POSTGRES).items()}


def connect_postgres(schema: str | None = None) -> Any:
    """An autocommit psycopg connection (skip or fail when PostgreSQL is down)."""
    try:
        import psycopg

        conn = psycopg.connect(POSTGRES, connect_timeout=3, autocommit=True)
    except Exception as exc:  # ImportError, OperationalError
        _unreachable(f"PostgreSQL at {POSTGRES!r}", exc)
        raise  # unreachable: skip() and fail() raise
    if schema is not None:
        conn.execute(f'SET search_path TO "{schema}"')
    return conn


def connect_redis() -> Any:
    """A redis-py client (skip or fail when Redis is down)."""
    try:
        import redis

        client = redis.Redis.from_url(REDIS, socket_connect_timeout=3)
        client.ping()
    except Exception as exc:  # ImportError, ConnectionError
        _unreachable(f"Redis at {REDIS!r}", exc)
        raise
    return client


def stop_process(proc: subprocess.Popen[Any], timeout: float = 10.0) -> None:
    """Ask a server process to stop; kill it if it has not after ``timeout``."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def unused_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def unique_name(kind: str) -> str:
    """A name no other test run uses (schemas, key prefixes)."""
    return f"gc_{kind}_{os.getpid()}_{secrets.token_hex(4)}"


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A fresh schema in the test database, dropped afterwards."""
    name = unique_name("schema")
    with connect_postgres() as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
        try:
            yield name
        finally:
            conn.execute(f'DROP SCHEMA "{name}" CASCADE')


@contextmanager
def redis_prefix() -> Iterator[str]:
    """A fresh cache KEY_PREFIX; every key under it is deleted afterwards."""
    client = connect_redis()
    prefix = unique_name("cache")
    try:
        yield prefix
    finally:
        keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()


def redis_cache(prefix: str) -> dict[str, Any]:
    """A CACHES entry for Django's own Redis backend under ``prefix``."""
    return {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS,
        "KEY_PREFIX": prefix,
    }


def postgres_settings(schema: str) -> dict[str, Any]:
    """A DATABASES entry for ``schema`` in the test database."""
    params = postgres_params()
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": params.get("dbname", "test"),
        "USER": params.get("user", "postgres"),
        "PASSWORD": params.get("password", ""),
        "HOST": params.get("host", "127.0.0.1"),
        "PORT": params.get("port", "5432"),
        "OPTIONS": {"options": f"-c search_path={schema}"},
    }


@contextmanager
def postgres_alias(schema: str) -> Iterator[str]:
    """A Django database alias for ``schema``, migrated, removed afterwards.

    The test suite runs on SQLite; this adds PostgreSQL beside it for the
    tests that need the real thing (DB access must be unblocked by the caller).
    """
    from django.core.management import call_command
    from django.db import connections

    alias = f"pg_{schema}"
    # connections.settings is filled once from DATABASES; an alias added to it
    # later is connected to like any other.
    connections.settings[alias] = connections.configure_settings(
        {"default": postgres_settings(schema)}
    )["default"]
    try:
        call_command("migrate", database=alias, verbosity=0)
        yield alias
    finally:
        connections[alias].close()
        del connections[alias]
        del connections.settings[alias]


def migrated_web_site(db: Path) -> dict[str, str]:
    """The environment of a demo server process on its own SQLite file ``db``
    (tests/web_settings.py), migrated; it draws with the shipped models, which
    must be there."""
    from gancaptcha_field.conf import conf
    from gancaptcha_field.supply import registry

    status = registry.inspect_model_dir(conf.MODEL_DIR)
    assert status.ok, f"{status.message} Run `python manage.py train_captcha_models`."
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.web_settings"}
    env["GC_WEB_DB"] = str(db)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=Path(__file__).resolve().parent.parent,
        env=env,
        check=True,
        capture_output=True,
    )
    return env


def run_worker(
    script: str, *args: str, path: Sequence[Path] = ()
) -> tuple[dict[str, Any], subprocess.CompletedProcess[str]]:
    """Run ``script`` in a fresh interpreter; its last line of output, as JSON."""
    root = Path(__file__).resolve().parent.parent
    pythonpath = os.pathsep.join(str(p) for p in [*path, root])
    env = {**os.environ, "PYTHONPATH": pythonpath}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    result = subprocess.run(
        [sys.executable, "-c", script, *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1]), result


def wait_until(condition: Callable[[], bool], timeout: float = 120.0) -> None:
    """Poll ``condition`` until it holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def wait_for_server(
    proc: subprocess.Popen[Any], port: int, timeout: float = 180.0
) -> bool:
    """Wait until ``port`` accepts connections or ``proc`` exits; True if up."""

    def listening() -> bool:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            return False
        return True

    wait_until(lambda: proc.poll() is not None or listening(), timeout)
    return proc.poll() is None
