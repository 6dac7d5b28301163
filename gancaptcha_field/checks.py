"""System checks: models missing or broken, test mode in production, URLs missing."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core import checks
from django.urls import NoReverseMatch, reverse

from gancaptcha_field import ratelimit
from gancaptcha_field.conf import conf
from gancaptcha_field.supply import registry

TAG = "gancaptcha"
_MIDDLEWARE = "gancaptcha_field.ratelimit.RateLimitMiddleware"


class Messages:
    """What each check says; the logic below only picks one."""

    W001 = "The GanCaptcha models are missing: {detail}"
    E001 = "The GanCaptcha model files are incompatible or corrupt: {detail}"
    E002 = "GANCAPTCHA_MODEL_DIR is not configured."
    W002 = "GANCAPTCHA_TEST_MODE is on while DEBUG is False: any CAPTCHA passes."
    W003 = "The GanCaptcha URLs are not included, so images cannot be served."
    E010 = "The GanCaptcha models could not be loaded: {detail}"
    E011 = "GanCaptcha rate-limit settings are invalid: {detail}"
    W010 = (
        "GANCAPTCHA_RATELIMIT_ENABLED is on but RateLimitMiddleware is not "
        "installed, so page renders and failed answers are not limited."
    )
    W011 = (
        "GanCaptcha rate limits count in a local-memory cache: each process "
        "counts alone."
    )


class Hints:
    """How to fix what each check found."""

    W001 = (
        "Leave GANCAPTCHA_MODEL_DIR unset to use the models shipped with the "
        "package, or train a set there: `python manage.py train_captcha_models`."
    )
    E001 = (
        "Retrain with `python manage.py train_captcha_models`, or reinstall the models."
    )
    E002 = (
        "Remove GANCAPTCHA_MODEL_DIR = None to use the models shipped with the "
        "package, or set it to a directory of models."
    )
    W002 = "Turn GANCAPTCHA_TEST_MODE off outside tests."
    W003 = 'Add path("gancaptcha/", include("gancaptcha_field.urls")) to your URLconf.'
    E010 = "Retrain or reinstall the models; the log has the full error."
    E011 = (
        "Rates look like '10/m' or '5/30s' (or None), for the actions create, "
        "image and fail; GANCAPTCHA_CLIENT_IP is 'REMOTE_ADDR', a request.META "
        "key, or the number of trusted proxies; GANCAPTCHA_RATELIMIT_CACHE names "
        "a cache in CACHES."
    )
    W010 = f'Add "{_MIDDLEWARE}" to MIDDLEWARE.'
    W011 = "Point GANCAPTCHA_RATELIMIT_CACHE at a shared cache (Redis, Memcached)."


def check_models(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """W001 models missing, E001 incompatible or corrupt, E002 not configured."""
    if conf.POOL_ONLY:
        return []  # serves from the pool only: never reads the model directory
    model_dir = conf.MODEL_DIR
    status = registry.inspect_model_dir(model_dir)
    if status.ok:
        return []
    if model_dir is None or status.code == "not_configured":
        return [
            checks.Error(Messages.E002, hint=Hints.E002, id="gancaptcha_field.E002")
        ]
    if status.code == "missing":
        return [
            checks.Warning(
                Messages.W001.format(detail=status.message),
                hint=Hints.W001,
                id="gancaptcha_field.W001",
            )
        ]
    return [
        checks.Error(
            Messages.E001.format(detail=status.message),
            hint=Hints.E001,
            id="gancaptcha_field.E001",
        )
    ]


def check_test_mode(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """W002: test mode lets anything through, so it must not reach production."""
    if conf.TEST_MODE and not settings.DEBUG:
        return [
            checks.Warning(Messages.W002, hint=Hints.W002, id="gancaptcha_field.W002")
        ]
    return []


def check_urls(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """W003: the widget links to views that must be routable."""
    try:
        reverse("gancaptcha:refresh")
    except NoReverseMatch:
        return [
            checks.Warning(Messages.W003, hint=Hints.W003, id="gancaptcha_field.W003")
        ]
    return []


def check_models_load(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """E010 (deploy only, as it loads TensorFlow): sound files that do not load."""
    if conf.POOL_ONLY or not registry.inspect_model_dir(conf.MODEL_DIR).ok:
        return []  # never loads the models, or check_models has said why
    status = registry.get_registry().status()
    if status.ok:
        return []
    return [
        checks.Error(
            Messages.E010.format(detail=status.message),
            hint=Hints.E010,
            id="gancaptcha_field.E010",
        )
    ]


def check_ratelimit(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """E011 bad rate settings, W010 middleware missing, W011 per-process cache."""
    problems = []
    try:
        rates = conf.RATELIMIT_RATES
    except TypeError:
        rates = {}
        problems.append("GANCAPTCHA_RATELIMIT_RATES is not a dict")
    for action in sorted(set(rates) - set(ratelimit.ACTIONS), key=str):
        problems.append(f"unknown action {action!r}")
    for action in ratelimit.ACTIONS if rates else ():
        try:
            ratelimit.rate_for(action)
        except ValueError as exc:
            problems.append(str(exc))
    client_ip = conf.CLIENT_IP
    if isinstance(client_ip, bool) or not isinstance(client_ip, (str, int)):
        problems.append(f"GANCAPTCHA_CLIENT_IP is {client_ip!r}")
    elif isinstance(client_ip, int) and client_ip < 0:
        problems.append("GANCAPTCHA_CLIENT_IP is negative")
    if conf.RATELIMIT_CACHE not in settings.CACHES:
        problems.append(f"no cache {conf.RATELIMIT_CACHE!r} in CACHES")
    if problems:
        return [
            checks.Error(
                Messages.E011.format(detail="; ".join(problems)),
                hint=Hints.E011,
                id="gancaptcha_field.E011",
            )
        ]
    if not conf.RATELIMIT_ENABLED:
        return []
    found: list[checks.CheckMessage] = []
    if _MIDDLEWARE not in settings.MIDDLEWARE:
        found.append(
            checks.Warning(Messages.W010, hint=Hints.W010, id="gancaptcha_field.W010")
        )
    backend = settings.CACHES[conf.RATELIMIT_CACHE].get("BACKEND", "")
    if backend.endswith("LocMemCache") and not settings.DEBUG:
        found.append(
            checks.Warning(Messages.W011, hint=Hints.W011, id="gancaptcha_field.W011")
        )
    return found


def register() -> None:
    """Register the checks; safe to call more than once (Django keeps a set)."""
    checks.register(check_models, TAG)
    checks.register(check_test_mode, TAG, checks.Tags.security)
    checks.register(check_urls, TAG, checks.Tags.urls)
    checks.register(check_models_load, TAG, deploy=True)
    checks.register(check_ratelimit, TAG, checks.Tags.security)
