"""Settings for the benchmark site: our field and django-simple-captcha side by side.

One project serves both signup pages (/ours/signup/ and /peer/signup/) with the
same form, middleware and database, so only the CAPTCHA differs. The one
settings module of the benchmarks: benchmarks/bootstrap.py sets the environment
before Django starts, the database (BENCH_DB) and the GANCAPTCHA_* knobs each
run needs (BENCH_*). Rate limits are turned off: a benchmark is one client
hammering.
"""

from __future__ import annotations

import os
from pathlib import Path

from benchmarks import postgres

BASE_DIR = Path(__file__).resolve().parent.parent
RESULTS_DIR = BASE_DIR / "benchmarks" / "results"

SECRET_KEY = "benchmark-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]

# BENCH_SIDE: "both" for the in-process runs; "ours", "peer" or "none" (the
# page without a CAPTCHA) for server processes, so that a worker's memory holds
# one CAPTCHA app at most.
SIDE = os.environ.get("BENCH_SIDE", "both")
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.staticfiles",
    *(["gancaptcha_field"] if SIDE in ("both", "ours") else []),
    # The lab's commands (quality.py's captcha_sample, candidate.py's
    # captcha_attack); its AppConfig imports nothing on start.
    *(["gancaptcha_lab"] if SIDE in ("both", "ours") else []),
    *(["captcha"] if SIDE in ("both", "peer") else []),
    "benchmarks.peer_site",
]

# What a plain Django site runs; the same for both pages.
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "benchmarks.peer_site.urls"
WSGI_APPLICATION = "benchmarks.wsgi.application"

_CONTEXT_PROCESSORS = [
    "django.template.context_processors.request",
    "django.contrib.auth.context_processors.auth",
]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": _CONTEXT_PROCESSORS},
    }
]

# BENCH_DB: "sqlite" (BENCH_SQLITE, a file), "postgres" (BENCH_PG_SCHEMA, a
# schema: benchmarks/postgres.py), or "both" (SQLite as default, PostgreSQL as
# "postgres", for benchmarks that compare the two in one process).
_DB = os.environ.get("BENCH_DB", "sqlite")
_SQLITE = {
    "ENGINE": "django.db.backends.sqlite3",
    "NAME": os.environ.get("BENCH_SQLITE", str(RESULTS_DIR / "bench.sqlite3")),
    # WAL lets the two workers read while one writes; IMMEDIATE takes
    # the write lock up front instead of failing to upgrade to it.
    "OPTIONS": {
        "init_command": "PRAGMA journal_mode=WAL;",
        "transaction_mode": "IMMEDIATE",
    },
}
if os.environ.get("BENCH_SQLITE_PLAIN") == "1":
    # Django's defaults, as a site gets them: a transaction takes the write
    # lock only when it writes (benchmarks/durable_use.py).
    _SQLITE["OPTIONS"] = {}
_POSTGRES = postgres.database(os.environ.get("BENCH_PG_SCHEMA", "public"))
DATABASES = {"default": _POSTGRES if _DB == "postgres" else _SQLITE}
if _DB == "both":
    DATABASES["postgres"] = _POSTGRES

CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "captcha": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/0"),
        "KEY_PREFIX": os.environ.get("BENCH_REDIS_PREFIX", "gc_bench"),
    },
}

USE_TZ = True
STATIC_URL = "static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}

GANCAPTCHA_MODEL_DIR = Path(os.environ.get("BENCH_MODEL_DIR", BASE_DIR / "ml_models"))
GANCAPTCHA_RATELIMIT_ENABLED = False
_PRELOAD = os.environ.get("BENCH_PRELOAD", "")
GANCAPTCHA_PRELOAD = {"1": True, "0": False}.get(_PRELOAD, "auto")
_POOL_SIZE = int(os.environ.get("BENCH_POOL_SIZE", "0"))
if os.environ.get("BENCH_POOL_ONLY", "0") == "1":
    GANCAPTCHA_SOURCE = "pool"
else:
    GANCAPTCHA_SOURCE = "pool-then-draw" if _POOL_SIZE else "draw"
# A benchmark measures serving; refilling is timed on its own.
GANCAPTCHA_POOL = {"size": _POOL_SIZE, "autofill": False}
GANCAPTCHA_STORE = os.environ.get("BENCH_STORE", "database")
GANCAPTCHA_INLINE_IMAGE = os.environ.get("BENCH_INLINE", "0") == "1"
GANCAPTCHA_CACHE_ALIAS = "captcha"
GANCAPTCHA_HARDEN = os.environ.get("BENCH_HARDEN", "0") == "1"
GANCAPTCHA_TRAP = os.environ.get("BENCH_TRAP", "0") == "1"
# Only for trying the benchmark on untrained models; never set for figures.
GANCAPTCHA_SERVING_RULE = {
    _name.lower(): float(os.environ[f"BENCH_{_name}"])
    for _name in ("READER_THRESHOLD", "VERIFIER_THRESHOLD")
    if f"BENCH_{_name}" in os.environ
}
