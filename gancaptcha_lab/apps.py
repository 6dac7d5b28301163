"""The lab's AppConfig: it adds captcha_attack, captcha_panel, captcha_sample."""

from __future__ import annotations

from django.apps import AppConfig


class GanCaptchaLabConfig(AppConfig):
    """Nothing to set up: installing the app only adds its commands."""

    name = "gancaptcha_lab"
    verbose_name = "GanCaptcha attacker lab"
