"""Django REST framework support: a serializer field that verifies a challenge.

Install with the ``drf`` extra (``pip install gancaptcha-field[drf]``). The
client gets a challenge from ``POST /gancaptcha/issue/`` and sends back::

    {"captcha": {"key": "<key>", "answer": "1234"}, ...}

or, in place of the answer, a solved no-reading puzzle (``POST
/gancaptcha/no-reading/``, then the solution)::

    {"captcha": {"key": "<key>", "no_reading": "<solution>"}, ...}

The check is the form field's, challenges.attempt(): the same normalisation,
store, rate limit and single use (every attempt consumes the challenge,
committed even when the view's transaction rolls back), fail closed. This
field only maps its result code to a message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

try:
    from rest_framework import serializers
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "gancaptcha_field.drf needs Django REST framework: "
        "pip install 'gancaptcha-field[drf]'"
    ) from exc

from gancaptcha_field import challenges, messages
from gancaptcha_field.challenges import Code
from gancaptcha_field.conf import conf
from gancaptcha_field.fields import CODE_TO_ERROR, ERROR_MESSAGES


class GanCaptchaSerializerField(serializers.Field):  # type: ignore[type-arg]
    """Write-only: verifies (and consumes) {"key", "answer"}; gives the key."""

    default_error_messages = {**ERROR_MESSAGES, "malformed": messages.MALFORMED}

    def __init__(self, *, no_reading: bool | None = None, **kwargs: Any) -> None:
        """``no_reading``: as GanCaptchaField's (True on login endpoints)."""
        kwargs["write_only"] = True
        super().__init__(**kwargs)
        self.no_reading = no_reading

    def to_representation(self, value: Any) -> Any:
        """Never shown: the field is write-only."""
        return None

    def to_internal_value(self, data: Any) -> str:
        """Verify the answer against its key (consuming the challenge); the key."""
        if not isinstance(data, Mapping):
            self.fail("malformed")
        key = data.get("key")
        if not isinstance(key, str) or not key:
            self.fail("malformed")
        request = self.context.get("request")
        # A DRF Request wraps the HttpRequest the limiter reads.
        request = getattr(request, "_request", request)
        answer = data.get("answer")
        if isinstance(answer, int) and not isinstance(answer, bool):
            answer = str(answer)  # JSON clients may send 1234 as a number
        code = challenges.attempt(
            key,
            answer,
            request,
            proof=data.get("pow"),
            no_reading=data.get("no_reading"),
            allow_no_reading=(
                conf.NO_READING if self.no_reading is None else self.no_reading
            ),
        ).code
        if code is not Code.OK:
            self.fail(CODE_TO_ERROR[code])
        return key
