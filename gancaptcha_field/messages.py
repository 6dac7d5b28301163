"""User-facing texts shared by the widget, the field and the JSON views.

A bottom module (it imports nothing of ours), so every layer can use it.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

UNAVAILABLE_MESSAGE = _("CAPTCHA temporarily unavailable. Please try again later.")
RATE_LIMITED_MESSAGE = _("Too many attempts. Please wait a minute and try again.")
# The process is drawing for another visitor: no fault, just wait a moment.
BUSY_MESSAGE = _("The CAPTCHA is busy. Please try again in a few seconds.")
