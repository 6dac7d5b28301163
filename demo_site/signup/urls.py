"""Signup app URLs."""

from __future__ import annotations

from django.urls import path

from demo_site.signup import views

app_name = "signup"

urlpatterns = [
    path("", views.home, name="home"),
    path("signup/", views.signup, name="signup"),
    path("welcome/", views.welcome, name="welcome"),
    path("how-it-works/", views.how_it_works, name="how_it_works"),
    path(
        "how-it-works/report/<slug:name>.png",
        views.report_image,
        name="report_image",
    ),
]
