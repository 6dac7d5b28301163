"""Demo URLs: the signup app at the root, the CAPTCHA views under /gancaptcha/."""

from __future__ import annotations

from django.urls import include, path

urlpatterns = [
    path("gancaptcha/", include("gancaptcha_field.urls")),
    path("", include("demo_site.signup.urls")),
]
