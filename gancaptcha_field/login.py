"""Login forms with the CAPTCHA: for Django's LoginView and for the admin site.

WCAG 2.2's success criterion 3.3.8 (Accessible Authentication, Minimum, AA)
forbids a cognitive function test, such as transcribing digits, in any step
of logging in unless another way through is offered. These forms therefore
always offer the way through without reading, whatever
GANCAPTCHA_NO_READING says for other forms. The password is checked only
after the CAPTCHA has passed, so that a bot cannot try passwords without it.

::

    # urls.py
    from django.contrib.auth.views import LoginView
    from gancaptcha_field.login import CaptchaAuthenticationForm, protect_admin

    protect_admin()  # the admin site's login, with its own template
    urlpatterns = [
        path("login/", LoginView.as_view(form_class=CaptchaAuthenticationForm)),
        path("admin/", admin.site.urls),
        ...
    ]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _

from gancaptcha_field.fields import GanCaptchaField

if TYPE_CHECKING:
    from django.contrib.admin import AdminSite

__all__ = [
    "ADMIN_LOGIN_TEMPLATE",
    "CaptchaAdminAuthenticationForm",
    "CaptchaAuthenticationForm",
    "protect_admin",
]

# Django's admin login page with the CAPTCHA's row below the password.
ADMIN_LOGIN_TEMPLATE = "gancaptcha_field/admin/login.html"


def _captcha() -> GanCaptchaField:
    return GanCaptchaField(label=_("Are you human?"), no_reading=True)


def _clean_after_captcha(
    form: AuthenticationForm, clean: Callable[[], dict[str, Any]]
) -> dict[str, Any]:
    """The form's own clean() (which checks the password) only once the
    CAPTCHA passed: a refused CAPTCHA never costs a password guess."""
    # Field errors so far (the full clean is under way: form.errors would
    # start another).
    errors = getattr(form, "_errors", None) or {}
    if "captcha" in errors:
        return form.cleaned_data
    return clean()


class CaptchaAuthenticationForm(AuthenticationForm):
    """Django's login form plus the CAPTCHA, which offers the no-reading way."""

    captcha = _captcha()

    def clean(self) -> dict[str, Any]:
        """Check the password only when the CAPTCHA passed."""
        return _clean_after_captcha(self, super().clean)


class CaptchaAdminAuthenticationForm(AdminAuthenticationForm):
    """The admin site's login form plus the CAPTCHA (see protect_admin())."""

    captcha = _captcha()

    def clean(self) -> dict[str, Any]:
        """Check the password only when the CAPTCHA passed."""
        return _clean_after_captcha(self, super().clean)


def protect_admin(site: AdminSite | None = None) -> None:
    """Put the CAPTCHA on an admin site's login page (default: admin.site)."""
    if site is None:
        from django.contrib import admin

        site = admin.site
    site.login_form = CaptchaAdminAuthenticationForm
    site.login_template = ADMIN_LOGIN_TEMPLATE
