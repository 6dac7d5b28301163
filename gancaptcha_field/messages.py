"""Internal. What the app says to end users, in one place (lazy, so translated per
request).

A bottom module: it imports nothing of the app, so fields, the DRF field,
widgets, views and the JSON API can all use it. The msgids are the catalogues'
(locale/*/LC_MESSAGES/django.po); change one and its translation is lost.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

# One text for a wrong answer and an expired or unknown key (the codes differ):
# the page never tells a prober which keys were real.
REFUSED = _("Wrong answer. Please try the new image.")
REQUIRED = _("Please type the four digits shown in the image.")
UNAVAILABLE = _("CAPTCHA temporarily unavailable. Please try again later.")
RATE_LIMITED = _("Too many attempts. Please wait a minute and try again.")
MALFORMED = _("Send the CAPTCHA as an object with a key and an answer.")
# The pool is empty for a moment: worth a retry within seconds, not minutes.
TRY_AGAIN_SHORTLY = _("Too many people at once. Please try again in a few seconds.")
# The proof-of-work sent with the answer was missing its mark or wrong.
POW_FAILED = _("Your browser could not finish the check. Please try the new image.")
# The way through without reading (api.no_reading).
MALFORMED_KEY = _("Send the key of the challenge you were given.")
GONE = _("This challenge has expired or was used. Please get a new image.")
NO_READING_LIMITED = _(
    "You have verified without reading too often. Please type the digits, "
    "or try again later."
)
