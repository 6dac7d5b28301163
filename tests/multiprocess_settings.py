"""Settings for server processes the scale-out tests start (not for pytest).

The test settings, pointed at one PostgreSQL schema (GC_MP_SCHEMA) and, for
the cache store, at Redis under one key prefix (GC_MP_REDIS_PREFIX). The
servers serve from the pool only, so they never load TensorFlow.
"""

from __future__ import annotations

import os

from tests.services import postgres_settings, redis_cache
from tests.settings import *  # noqa: F403

DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
DATABASES = {"default": postgres_settings(os.environ["GC_MP_SCHEMA"])}
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "captcha": redis_cache(os.environ.get("GC_MP_REDIS_PREFIX", "gc_unused")),
}
GANCAPTCHA_STORE = os.environ.get("GC_MP_STORE", "database")
GANCAPTCHA_CACHE_ALIAS = "captcha"
GANCAPTCHA_SOURCE = "pool"
GANCAPTCHA_POOL = {"size": 100}
GANCAPTCHA_PRELOAD = "auto"
