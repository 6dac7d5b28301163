"""Django REST framework support: a serializer field that verifies a challenge.

Install with the ``drf`` extra (``pip install gancaptcha-field[drf]``). The
client gets a challenge from ``POST /gancaptcha/issue/`` and sends back::

    {"captcha": {"key": "<key>", "answer": "1234"}, ...}

Verification is the form field's: the same answer normalisation, the same
store, single use (every attempt consumes the challenge), fail closed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext_lazy as _

try:
    from rest_framework import serializers
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "gancaptcha_field.drf needs Django REST framework: "
        "pip install 'gancaptcha-field[drf]'"
    ) from exc

from gancaptcha_field import challenges, ratelimit
from gancaptcha_field.conf import conf
from gancaptcha_field.fields import GanCaptchaField, normalise_answer

logger = logging.getLogger(__name__)

# As the form field: longer input is not an answer; don't process it.
_MAX_RAW_ANSWER = 64

_CODE_TO_ERROR = {
    challenges.Code.EXPIRED: "expired",
    challenges.Code.INVALID: "invalid",
    challenges.Code.UNKNOWN: "invalid",
}


class GanCaptchaSerializerField(serializers.Field):  # type: ignore[type-arg]
    """Write-only: verifies (and consumes) {"key", "answer"}; gives the key."""

    default_error_messages = {
        **GanCaptchaField.default_error_messages,
        "malformed": _("Send the CAPTCHA as an object with a key and an answer."),
    }

    def __init__(self, **kwargs: Any) -> None:
        kwargs["write_only"] = True
        super().__init__(**kwargs)

    def to_representation(self, value: Any) -> Any:
        """Never shown: the field is write-only."""
        return None

    def to_internal_value(self, data: Any) -> str:
        """Verify the answer against its key (consuming the challenge); the key."""
        if not isinstance(data, Mapping):
            self.fail("malformed")
        key, raw = data.get("key"), data.get("answer")
        if not isinstance(key, str) or not key:
            self.fail("malformed")
        answer: str | None = None  # not a plausible answer; still consumes the key
        if raw is None:
            answer = ""
        elif isinstance(raw, (str, int)) and not isinstance(raw, bool):
            raw = str(raw)
            answer = normalise_answer(raw) if len(raw) <= _MAX_RAW_ANSWER else None
        outcome = self._check(key, answer)
        if outcome != "ok":
            self.fail(outcome)
        return key

    @staticmethod
    def _check(key: str, answer: str | None) -> str:
        try:
            if not conf.TEST_MODE and not challenges.is_available():
                return "unavailable"
            if ratelimit.peek(ratelimit.FAIL).limited:
                challenges.discard(key)
                return "rate_limited"
            if not answer:
                # Any attempt uses the challenge up, even an empty or a bad one.
                challenges.discard(key)
                outcome = "invalid" if answer is None else "required"
            else:
                result = challenges.verify(key, answer)
                outcome = "ok" if result.ok else _CODE_TO_ERROR[result.code]
        except Exception:  # fail closed: a validation error, never a pass or a 500
            logger.exception("GanCaptcha: could not verify a challenge")
            return "unavailable"
        if outcome != "ok":
            ratelimit.hit(ratelimit.FAIL)
        return outcome
