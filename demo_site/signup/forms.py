"""Django's own signup form plus the CAPTCHA."""

from __future__ import annotations

from django.contrib.auth.forms import UserCreationForm
from django.utils.translation import gettext_lazy as _

from gancaptcha_field.fields import GanCaptchaField


class SignupForm(UserCreationForm):  # type: ignore[type-arg]
    """Username and password twice, then the CAPTCHA."""

    captcha = GanCaptchaField(label=_("Are you human?"))
