"""Include with ``path("gancaptcha/", include("gancaptcha_field.urls"))``."""

from __future__ import annotations

from django.urls import path

from gancaptcha_field import views

app_name = "gancaptcha"

urlpatterns = [
    path("<str:key>/image.png", views.image, name="image"),
    path("refresh/", views.refresh, name="refresh"),
]
