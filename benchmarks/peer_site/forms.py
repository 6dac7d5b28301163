"""The same signup form with either CAPTCHA (each built only if its app is on)."""

from __future__ import annotations

from django.apps import apps
from django.contrib.auth.forms import UserCreationForm

if apps.is_installed("gancaptcha_field"):
    from gancaptcha_field.fields import GanCaptchaField

    class OursForm(UserCreationForm):  # type: ignore[type-arg]
        """Username, password twice, and our CAPTCHA."""

        captcha = GanCaptchaField()


if apps.is_installed("captcha"):
    from captcha.fields import CaptchaField

    class PeerForm(UserCreationForm):  # type: ignore[type-arg]
        """Username, password twice, and django-simple-captcha's."""

        captcha = CaptchaField()
