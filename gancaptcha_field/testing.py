"""Helpers for testing your own views and forms that use GanCaptchaField.

``solve()`` reads the answer of a rendered challenge from the store, so a test
can pass the real CAPTCHA with real models and a real database::

    from gancaptcha_field.testing import solve

    page = client.get("/signup/")
    client.post("/signup/", {"username": "ada", ..., **solve(page)})

With pytest-django, ``captcha_answer`` is the same function as a fixture that
also grants database access: ``from gancaptcha_field.testing import
captcha_answer`` in your conftest.py. In test mode (GANCAPTCHA_TEST_MODE) no
model is needed to pass: ``passing_data()`` gives the test answer. Test mode
acts only with DEBUG on, or with GANCAPTCHA_TEST_MODE_ALLOW_WITHOUT_DEBUG too
(pytest-django runs with DEBUG off).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from html.parser import HTMLParser
from typing import Any

from django import forms

from gancaptcha_field import challenges
from gancaptcha_field.conf import conf

__all__ = ["answer_for", "passing_data", "solve", "solve_all"]


def answer_for(key: str) -> str:
    """The answer of a live challenge; LookupError if it is unknown, used or expired."""
    answer = challenges.get_answer_for_audio(key)
    if answer is None:
        raise LookupError(f"no live challenge with key {key[:8]!r}…")
    return answer


def solve_all(source: Any) -> list[dict[str, str]]:
    """Form data answering every live challenge in source, in document order.

    source is a response (HTML or the JSON API's), an HTML string, a form or a
    bound field (rendered here, which issues its challenge), or the JSON API's
    payload as a mapping.
    """
    if isinstance(source, Mapping):
        return [_solve_payload(source)]
    if _is_json_response(source):
        return [_solve_payload(json.loads(source.content))]
    hidden = _HiddenInputs()
    hidden.feed(_to_html(source))
    # A widget's key is the hidden "<name>_0" whose value the store knows; the
    # answer goes in "<name>_1". So an overridden template needs no markers.
    candidates = [
        (name, value)
        for name, value in hidden.inputs
        if name.endswith("_0") and challenges.is_valid_key(value)
    ]
    solved = []
    for name, value in candidates:
        answer = challenges.get_answer_for_audio(value)
        if answer is not None:
            solved.append({name: value, f"{name[:-2]}_1": answer})
    return solved


def solve(source: Any, name: str | None = None) -> dict[str, str]:
    """Form data answering the one live challenge in source (see solve_all).

    name picks a field (its name, or its prefixed HTML name) when the page has
    several CAPTCHAs; LookupError when there is not exactly one match.
    """
    found = solve_all(source)
    if name is not None:
        found = [
            data
            for data in found
            if any(
                k in (f"{name}_0", f"{name}_1") or k.endswith(f"-{name}_0")
                for k in data
            )
        ]
    if len(found) != 1:
        which = f" named {name!r}" if name is not None else ""
        raise LookupError(
            f"expected one live GanCaptcha challenge{which}, found {len(found)}"
        )
    return found[0]


def passing_data(name: str = "captcha") -> dict[str, str]:
    """Form data that passes field name while test mode acts (see above)."""
    return {f"{name}_0": "", f"{name}_1": conf.TEST_ANSWER}


def _solve_payload(payload: Mapping[str, Any]) -> dict[str, str]:
    key = payload.get("key")
    if not isinstance(key, str):
        raise LookupError("the payload has no challenge key")
    return {"key": key, "answer": answer_for(key)}


def _is_json_response(source: Any) -> bool:
    headers = getattr(source, "headers", None)
    content_type = headers.get("Content-Type", "") if headers is not None else ""
    return isinstance(getattr(source, "content", None), bytes) and (
        content_type.split(";")[0].strip() == "application/json"
    )


def _to_html(source: Any) -> str:
    if isinstance(source, str):
        return source
    if isinstance(source, bytes):
        return source.decode()
    if isinstance(source, (forms.BaseForm, forms.BoundField)):
        return str(source)
    content = getattr(source, "content", None)
    if isinstance(content, bytes):
        return content.decode(getattr(source, "charset", None) or "utf-8")
    raise TypeError(
        "solve() reads a response, an HTML string, a form, a bound field or the "
        f"JSON API's payload, not {type(source).__name__}"
    )


class _HiddenInputs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.inputs: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "input" and (found.get("type") or "").lower() == "hidden":
            self.inputs.append((found.get("name") or "", found.get("value") or ""))


try:
    import pytest
except ImportError:  # pytest is only needed for the fixture
    pass
else:

    @pytest.fixture
    def captcha_answer(db: None) -> Callable[..., dict[str, str]]:
        """pytest fixture (pytest-django): solve(), with database access."""
        return solve

    __all__ += ["captcha_answer"]
