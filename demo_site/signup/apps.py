"""The demo signup app."""

from __future__ import annotations

from django.apps import AppConfig


class SignupConfig(AppConfig):
    """A signup form guarded by the CAPTCHA."""

    name = "demo_site.signup"
    label = "signup"
