"""Include with ``path("gancaptcha/", include("gancaptcha_field.urls"))``."""

from __future__ import annotations

from django.urls import path

from gancaptcha_field import api, views

app_name = "gancaptcha"

urlpatterns = [
    path("<str:key>/image.png", views.image, name="image"),
    path("<str:key>/image@2x.png", views.image_2x, name="image_2x"),
    path("<str:key>/audio.wav", views.audio, name="audio"),
    path("issue/", api.issue, name="issue"),
    path("refresh/", api.refresh, name="refresh"),
    path("no-reading/", api.no_reading, name="no_reading"),
]
