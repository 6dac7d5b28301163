"""The app's URLs and the demo signup pages, as a project would mount them."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.views import LoginView
from django.urls import include, path

from gancaptcha_field.login import CaptchaAuthenticationForm, protect_admin

protect_admin(admin.site)

urlpatterns = [
    path("admin/", admin.site.urls),
    path(
        "login/", LoginView.as_view(form_class=CaptchaAuthenticationForm), name="login"
    ),
    path("gancaptcha/", include("gancaptcha_field.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("demo_site.signup.urls")),
]
