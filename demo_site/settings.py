"""Settings for the demo site (development only: DEBUG on, SQLite)."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from demo_site import languages

BASE_DIR = Path(__file__).resolve().parent.parent

# Development default; set DJANGO_SECRET_KEY anywhere that matters.
SECRET_KEY = os.environ.get(
    "DJANGO_SECRET_KEY", "django-insecure-demo-only-change-me-3f9a1c2e7b"
)
DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "[::1]"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "gancaptcha_field",
    "demo_site.signup",
]
# The attacker lab's commands (captcha_attack, captcha_panel, captcha_sample)
# when requirements-lab.txt is installed; the demo runs without it.
if importlib.util.find_spec("gancaptcha_lab") is not None:
    INSTALLED_APPS.append("gancaptcha_lab")

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "gancaptcha_field.ratelimit.RateLimitMiddleware",
]

ROOT_URLCONF = "demo_site.urls"
WSGI_APPLICATION = "demo_site.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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
        "NAME": BASE_DIR / "db.sqlite3",
        # Several processes (gunicorn workers) and the pool's refill threads
        # write at once: WAL lets readers go on while one writes, and
        # IMMEDIATE takes the write lock up front instead of failing to
        # upgrade a read lock ("database is locked").
        "OPTIONS": {
            "init_command": "PRAGMA journal_mode=WAL;",
            "transaction_mode": "IMMEDIATE",
        },
    }
}

AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation."
        "UserAttributeSimilarityValidator"
    },
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
# The language switcher (Django's set_language view) offers these.
LANGUAGES = languages.LANGUAGES
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# Django's LoginView (/login/) uses the CAPTCHA's login form; after it, home.
LOGIN_REDIRECT_URL = "signup:home"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

GANCAPTCHA_MODEL_DIR = BASE_DIR / "ml_models"

# Per client address. runserver is one process, so the local-memory cache counts
# everything; with several processes (DJANGO_DEBUG=0 under gunicorn) the counts
# must be shared: DJANGO_REDIS_URL=redis://... (check E012 says so otherwise).
# Behind a reverse proxy, also set GANCAPTCHA_CLIENT_IP.
GANCAPTCHA_RATELIMIT_ENABLED = True
if os.environ.get("DJANGO_REDIS_URL"):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["DJANGO_REDIS_URL"],
        }
    }

# Opt-in hardening (docs/how-it-works.md): GANCAPTCHA_HARDEN=1 to try it.
GANCAPTCHA_HARDEN = os.environ.get("GANCAPTCHA_HARDEN", "0") == "1"
# Opt-in trap (docs/security.md): GANCAPTCHA_TRAP=1 keeps each challenge's
# stock misreading and counts an answer that repeats it as a bot signal.
GANCAPTCHA_TRAP = os.environ.get("GANCAPTCHA_TRAP", "0") == "1"

# Any answer "PASS" passes: for browser tests only, never on a real site.
GANCAPTCHA_TEST_MODE = os.environ.get("GANCAPTCHA_TEST_MODE", "0") == "1"
if GANCAPTCHA_TEST_MODE and not DEBUG:
    raise ImproperlyConfigured(
        "GANCAPTCHA_TEST_MODE=1 with DJANGO_DEBUG=0: test mode lets any "
        "CAPTCHA answer pass, so the demo site refuses to start without DEBUG."
    )
