"""Demo URLs: the signup app at the root, the CAPTCHA views under /gancaptcha/,
and two logins protected by the CAPTCHA: Django's LoginView and the admin's."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.views import LoginView
from django.urls import include, path

from gancaptcha_field.login import CaptchaAuthenticationForm, protect_admin

# The admin login gets the CAPTCHA, with the way through without reading.
protect_admin(admin.site)

urlpatterns = [
    path("admin/", admin.site.urls),
    path(
        "login/", LoginView.as_view(form_class=CaptchaAuthenticationForm), name="login"
    ),
    path("gancaptcha/", include("gancaptcha_field.urls")),
    # Django's set_language view, for the demo's language switcher.
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("demo_site.signup.urls")),
]
