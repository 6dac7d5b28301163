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

    def __init__(self, **kwargs: Any) -> None:
        # The parts are never cleaned on their own: clean() below does it all.
        fields = (forms.CharField(), forms.CharField())
        super().__init__(fields=fields, require_all_fields=True, **kwargs)
        # (key, answer) -> outcome: a form cleaned twice must not look the
        # challenge up twice, as the first look consumed it.
        self._last: tuple[tuple[object, object, object], Code] | None = None

    def __deepcopy__(self, memo: dict[int, Any]) -> GanCaptchaField:
        result = super().__deepcopy__(memo)
        result._last = None  # never share an outcome between form instances
        return result

    def compress(self, data_list: list[Any]) -> str:
        """The challenge key."""
        return str(data_list[0]) if data_list else ""

    def clean(self, value: Any) -> str:
        """Verify (and consume) the challenge; return its key."""
        key, answer, proof = _split(value)
        if self._last is not None and self._last[0] == (key, answer, proof):
            code = self._last[1]
        else:
            code = challenges.attempt(key, answer, proof=proof).code
            self._last = ((key, answer, proof), code)
        if code is not Code.OK:
            error = CODE_TO_ERROR[code]
            raise ValidationError(self.error_messages[error], code=error)
        return key if isinstance(key, str) else ""


# Stands for the answer of a value that is not two parts: attempt() refuses it
# as malformed (it is not text).
_JUNK = object()


def _split(value: Any) -> tuple[object, object, object]:
    """(key, raw answer, proof-of-work or None) as posted."""
    if not value:
        return None, None, None
    if not isinstance(value, (list, tuple)) or len(value) not in (2, 3):
        return None, _JUNK, None
    raw_key, raw_answer, *rest = value
    proof = rest[0] if rest else None
    key = raw_key if isinstance(raw_key, str) and raw_key else None
    return key, raw_answer, proof
