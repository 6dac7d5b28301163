"""The app's URLs and the demo signup pages, as a project would mount them."""

from __future__ import annotations

from django.urls import include, path

urlpatterns = [
    path("gancaptcha/", include("gancaptcha_field.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("demo_site.signup.urls")),
]
