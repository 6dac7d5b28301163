"""Signup app URLs."""

from __future__ import annotations

from django.urls import path

from demo_site.signup import views

app_name = "signup"

urlpatterns = [
    path("", views.home, name="home"),
    path("signup/", views.signup, name="signup"),
    path("welcome/", views.welcome, name="welcome"),
]
