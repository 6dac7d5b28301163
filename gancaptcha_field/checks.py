"""System checks: models missing or broken, test mode in production, URLs missing."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core import checks
from django.urls import NoReverseMatch, reverse

from gancaptcha_field import registry
from gancaptcha_field.conf import conf

TAG = "gancaptcha"


class Messages:
    """What each check says; the logic below only picks one."""

    W001 = "The GanCaptcha models are missing: {detail}"
    E001 = "The GanCaptcha model files are incompatible or corrupt: {detail}"
    E002 = "GANCAPTCHA_MODEL_DIR is not configured."
    W002 = "GANCAPTCHA_TEST_MODE is on while DEBUG is False: any CAPTCHA passes."
    W003 = "The GanCaptcha URLs are not included, so images cannot be served."


class Hints:
    """How to fix what each check found."""

    W001 = "Run `python manage.py train_captcha_models`."
    E001 = (
        "Retrain with `python manage.py train_captcha_models`, or reinstall the models."
    )
    E002 = 'Set GANCAPTCHA_MODEL_DIR (or BASE_DIR, to use BASE_DIR / "ml_models").'
    W002 = "Turn GANCAPTCHA_TEST_MODE off outside tests."
    W003 = 'Add path("gancaptcha/", include("gancaptcha_field.urls")) to your URLconf.'


def check_models(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """W001 models missing, E001 incompatible or corrupt, E002 not configured."""
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


def register() -> None:
    """Register the checks; safe to call more than once (Django keeps a set)."""
    checks.register(check_models, TAG)
    checks.register(check_test_mode, TAG, checks.Tags.security)
    checks.register(check_urls, TAG, checks.Tags.urls)
