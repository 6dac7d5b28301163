"""The CAPTCHA form field: a hidden challenge key plus the typed answer.

The check itself is challenges.attempt(); this field only maps its result code
to a message.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from gancaptcha_field import challenges, messages
from gancaptcha_field.challenges import Code, normalise_answer
from gancaptcha_field.conf import conf
from gancaptcha_field.widgets import GanCaptchaWidget

__all__ = ["GanCaptchaField", "normalise_answer"]

# Result code -> error code; the codes of wrong, expired and unknown differ,
# their text does not (the page never tells a prober which keys were real).
CODE_TO_ERROR: dict[Code, str] = {
    Code.INVALID: "invalid",
    Code.UNKNOWN: "invalid",
    Code.MALFORMED: "invalid",
    Code.EXPIRED: "expired",
    Code.REQUIRED: "required",
    Code.RATE_LIMITED: "rate_limited",
    Code.UNAVAILABLE: "unavailable",
    Code.POW_FAILED: "pow_failed",
}

ERROR_MESSAGES: dict[str, Any] = {
    "invalid": messages.REFUSED,
    "expired": messages.REFUSED,
    "required": messages.REQUIRED,
    "unavailable": messages.UNAVAILABLE,
    "rate_limited": messages.RATE_LIMITED,
    "pow_failed": messages.POW_FAILED,
}


class GanCaptchaField(forms.MultiValueField):
    """Passes when the answer matches its challenge; each challenge is single use."""

    widget = GanCaptchaWidget
    default_error_messages = ERROR_MESSAGES

    def __init__(self, *, no_reading: bool | None = None, **kwargs: Any) -> None:
        """``no_reading``: offer the way through without reading (True: always,
        as login forms must under WCAG 2.2 SC 3.3.8; False: never; None:
        as GANCAPTCHA_NO_READING says)."""
        # The parts are never cleaned on their own: clean() below does it all.
        fields = (forms.CharField(), forms.CharField())
        super().__init__(fields=fields, require_all_fields=True, **kwargs)
        self.no_reading = no_reading
        self.widget.no_reading = no_reading
        # What was posted -> outcome: a form cleaned twice must not look the
        # challenge up twice, as the first look consumed it.
        self._last: tuple[tuple[object, ...], Code] | None = None

    @property
    def offers_no_reading(self) -> bool:
        """True when this field passes a solved no-reading puzzle."""
        return conf.NO_READING if self.no_reading is None else self.no_reading

    def __deepcopy__(self, memo: dict[int, Any]) -> GanCaptchaField:
        result = super().__deepcopy__(memo)
        result._last = None  # never share an outcome between form instances
        return result

    def compress(self, data_list: list[Any]) -> str:
        """The challenge key."""
        return str(data_list[0]) if data_list else ""

    def clean(self, value: Any) -> str:
        """Verify (and consume) the challenge; return its key."""
        posted = _split(value)
        key, answer, proof, no_reading = posted
        if self._last is not None and self._last[0] == posted:
            code = self._last[1]
        else:
            code = challenges.attempt(
                key,
                answer,
                proof=proof,
                no_reading=no_reading,
                allow_no_reading=self.offers_no_reading,
            ).code
            self._last = (posted, code)
        if code is not Code.OK:
            error = CODE_TO_ERROR[code]
            raise ValidationError(self.error_messages[error], code=error)
        return key if isinstance(key, str) else ""


# Stands for the answer of a value that is not two parts: attempt() refuses it
# as malformed (it is not text).
_JUNK = object()


def _split(value: Any) -> tuple[object, object, object, object]:
    """(key, raw answer, proof-of-work or None, no-reading solution or None)."""
    if not value:
        return None, None, None, None
    if not isinstance(value, (list, tuple)) or not 2 <= len(value) <= 4:
        return None, _JUNK, None, None
    raw_key, raw_answer, *rest = value
    proof, no_reading = (*rest, None, None)[:2]
    key = raw_key if isinstance(raw_key, str) and raw_key else None
    return key, raw_answer, proof, no_reading
