"""Both signup pages and the image views of whichever apps are installed."""

from __future__ import annotations

from django.apps import apps
from django.urls import include, path

from benchmarks.peer_site import views

urlpatterns = [
    path("ping/", views.ping, name="ping"),
    path("plain/signup/", views.plain, name="plain"),
]
if apps.is_installed("gancaptcha_field"):
    urlpatterns += [
        path("ours/signup/", views.ours, name="ours"),
        path("gancaptcha/", include("gancaptcha_field.urls")),
    ]
if apps.is_installed("captcha"):
    urlpatterns += [
        path("peer/signup/", views.peer, name="peer"),
        path("captcha/", include("captcha.urls")),
    ]
