"""Demo URLs: the signup app at the root, the CAPTCHA views under /gancaptcha/."""

from __future__ import annotations

from django.urls import include, path

urlpatterns = [
    path("gancaptcha/", include("gancaptcha_field.urls")),
    # Django's set_language view, for the demo's language switcher.
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("demo_site.signup.urls")),
]
