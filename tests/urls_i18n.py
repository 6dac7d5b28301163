"""The app's URLs under another prefix, in i18n_patterns (tests/test_links.py)."""

from __future__ import annotations

from django.conf.urls.i18n import i18n_patterns
from django.urls import include, path

urlpatterns = i18n_patterns(
    path("elsewhere/captcha/", include("gancaptcha_field.urls")),
)
