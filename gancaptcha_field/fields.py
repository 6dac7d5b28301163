"""The CAPTCHA form field: a hidden challenge key plus the typed answer."""

from __future__ import annotations

import logging
import unicodedata
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from gancaptcha_field import challenges, ratelimit
from gancaptcha_field.conf import conf
from gancaptcha_field.widgets import UNAVAILABLE_MESSAGE, GanCaptchaWidget

# Longer input is not an answer, whatever it normalises to; don't process it.
_MAX_RAW_ANSWER = 64

logger = logging.getLogger(__name__)

# One text for a wrong answer and an expired or unknown key (the codes differ):
# the page never tells a prober which keys were real.
_REFUSED_MESSAGE = _("Wrong answer. Please try the new image.")

_OK = "ok"
_RESULT_TO_ERROR = {
    challenges.Code.OK: _OK,
    challenges.Code.EXPIRED: "expired",
    challenges.Code.INVALID: "invalid",
    challenges.Code.UNKNOWN: "invalid",
}


def normalise_answer(raw: str) -> str:
    """Drop all whitespace and fold Unicode decimal digits (e.g. ١٢٣٤) to ASCII."""
    return "".join(
        str(unicodedata.decimal(c)) if c.isdecimal() else c
        for c in raw
        if not c.isspace()
    )


class GanCaptchaField(forms.MultiValueField):
    """Passes when the answer matches its challenge; each challenge is single use."""

    widget = GanCaptchaWidget
    default_error_messages = {
        "invalid": _REFUSED_MESSAGE,
        "expired": _REFUSED_MESSAGE,
        "required": _("Please type the four digits shown in the image."),
        "unavailable": UNAVAILABLE_MESSAGE,
        "rate_limited": ratelimit.RATE_LIMITED_MESSAGE,
    }

    def __init__(self, **kwargs: Any) -> None:
        # The parts are never cleaned on their own: clean() below does it all.
        fields = (forms.CharField(), forms.CharField())
        super().__init__(fields=fields, require_all_fields=True, **kwargs)
        # (key, answer) -> outcome: a form cleaned twice must not look the
        # challenge up twice, as the first look consumed it.
        self._last: tuple[tuple[str | None, str | None], str] | None = None

    def __deepcopy__(self, memo: dict[int, Any]) -> GanCaptchaField:
        result = super().__deepcopy__(memo)
        result._last = None  # never share an outcome between form instances
        return result

    def compress(self, data_list: list[Any]) -> str:
        """The challenge key."""
        return str(data_list[0]) if data_list else ""

    def clean(self, value: Any) -> str:
        """Verify (and consume) the challenge; return its key."""
        key, answer = _split(value)
        if self._last is not None and self._last[0] == (key, answer):
            outcome = self._last[1]
        else:
            outcome = self._check(key, answer)
            self._last = ((key, answer), outcome)
        if outcome != _OK:
            raise ValidationError(self.error_messages[outcome], code=outcome)
        return key or ""

    def _check(self, key: str | None, answer: str | None) -> str:
        try:
            if not conf.TEST_MODE and not challenges.is_available():
                return "unavailable"
            if ratelimit.peek(ratelimit.FAIL).limited:
                # Refused unread, and still used up: no guessing past the limit.
                if key:
                    challenges.discard(key)
                return "rate_limited"
            outcome = self._verify(key, answer)
        except Exception:  # fail closed: a form error, never a pass or a 500
            logger.exception("GanCaptcha: could not verify a challenge")
            return "unavailable"
        if outcome != _OK:
            ratelimit.hit(ratelimit.FAIL)
        return outcome

    @staticmethod
    def _verify(key: str | None, answer: str | None) -> str:
        if not answer:
            # Any submission uses the challenge up, even an empty or a bad one.
            if key:
                challenges.discard(key)
            return "invalid" if answer is None else "required"
        return _RESULT_TO_ERROR[challenges.verify(key or "", answer).code]


def _split(value: Any) -> tuple[str | None, str | None]:
    """(key, normalised answer); None for a part that is not a plausible string."""
    if not value:
        return None, ""
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        return None, None
    raw_key, raw_answer = value
    key = raw_key if isinstance(raw_key, str) and raw_key else None
    if raw_answer is None:
        answer: str | None = ""
    elif isinstance(raw_answer, str) and len(raw_answer) <= _MAX_RAW_ANSWER:
        answer = normalise_answer(raw_answer)
    else:
        answer = None
    return key, answer
