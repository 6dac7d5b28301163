"""Minimal settings for the test suite."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from demo_site import languages

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = "tests-only-not-secret"
ALLOWED_HOSTS = ["testserver"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "gancaptcha_field",
    "gancaptcha_lab",  # the lab's commands, for its tests
    "demo_site.signup",
]

MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "gancaptcha_field.ratelimit.RateLimitMiddleware",
]
# Rate limits are on by default; off here, as the suite is one client posting
# a lot. tests/test_ratelimit.py turns them on with the settings fixture.
GANCAPTCHA_RATELIMIT_ENABLED = False

ROOT_URLCONF = "tests.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": ":memory:",
        # A file, not shared-cache memory: the concurrency tests write from
        # several threads, and SQLite's shared cache fails those instead of
        # waiting for the lock.
        "TEST": {
            "NAME": str(
                Path(tempfile.gettempdir()) / f"gancaptcha-tests-{os.getpid()}.sqlite3"
            ),
        },
    }
}

USE_TZ = True
# The demo site's languages (LocaleMiddleware picks one).
LANGUAGE_CODE = "en"
LANGUAGES = languages.LANGUAGES
STATIC_URL = "static/"

GANCAPTCHA_MODEL_DIR = BASE_DIR / "ml_models"
GANCAPTCHA_PRELOAD = False
# Sites get a pool by default; the tests draw on the spot unless a test turns
# a pool on (tests/test_pool.py), so that no background refill runs under them.
GANCAPTCHA_SOURCE = "draw"
