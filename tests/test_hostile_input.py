"""Hostile input never gives a 5xx: property-based, through clean() and the views."""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.test import Client

from gancaptcha_field import challenges
from gancaptcha_field.fields import GanCaptchaField, normalise_answer
from tests.utils import PASSWORD

pytestmark = [pytest.mark.usefixtures("captcha_models"), pytest.mark.django_db]

# No deadline: a timed assertion has no place in tests. No example database:
# nothing is written into the work tree. Modest counts keep the suite quick.
few = settings(
    max_examples=50,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

REFRESH_URL = "/gancaptcha/refresh/"

# Strings a client can send: any text (NUL included; Hypothesis leaves out lone
# surrogates, which no request can carry), digits of other scripts, 100 kB.
short_text = st.one_of(
    st.text(max_size=40),
    st.text(alphabet="0123456789 \t\n\x00", max_size=12),
    st.sampled_from(["", " ", "\x00", "١٢٣٤", "PASS", "<script>", "../../x", "%00"]),
    st.binary(max_size=40).map(lambda b: b.decode("latin-1")),
)
hostile_text = st.one_of(
    short_text,
    st.builds(lambda c, n: c * n, st.characters(), st.integers(50_000, 100_000)),
)
# What a form value can be once parsed: missing, a string, or repeated.
posted_value = st.one_of(
    st.none(), hostile_text, st.lists(hostile_text, min_size=2, max_size=3)
)
# What clean() can be handed by custom code: anything.
python_value = st.one_of(
    st.none(),
    hostile_text,
    st.integers(),
    st.floats(allow_nan=True),
    st.dictionaries(hostile_text, hostile_text, max_size=2),
    st.lists(st.one_of(st.none(), hostile_text, st.integers()), max_size=3),
    st.tuples(st.one_of(st.none(), hostile_text), st.one_of(st.none(), hostile_text)),
)


@few
@given(value=python_value)
def test_clean_refuses_anything_with_a_validation_error(value: Any) -> None:
    with pytest.raises(ValidationError) as raised:
        GanCaptchaField().clean(value)
    assert {e.code for e in raised.value.error_list} <= {"invalid", "required"}


@few
@given(answer=hostile_text, use_live_key=st.booleans())
def test_clean_of_a_live_key_passes_only_with_its_answer(
    answer: str, use_live_key: bool
) -> None:
    challenge = challenges._create_with_answer("2580")
    key = challenge.key if use_live_key else secrets.token_urlsafe(24)
    field = GanCaptchaField()
    if use_live_key and len(answer) <= 64 and normalise_answer(answer) == "2580":
        assert field.clean([key, answer]) == key
    else:
        with pytest.raises(ValidationError):
            field.clean([key, answer])
    # Whatever came in, the challenge is used up (or was never named).
    if use_live_key:
        assert challenges.get_png(challenge.key) is None


def _form_data(key: Any, answer: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "username": "ada",
        "password1": PASSWORD,
        "password2": PASSWORD,
    }
    for name, value in (("captcha_0", key), ("captcha_1", answer)):
        if value is not None:
            data[name] = value
    return data


@few
@given(key=posted_value, answer=posted_value)
def test_signup_posts_with_hostile_captcha_values_are_form_errors(
    key: Any, answer: Any
) -> None:
    response = Client().post("/signup/", _form_data(key, answer))
    assert response.status_code == 200
    assert response.context["form"].errors["captcha"]
    assert not User.objects.exists()


@few
@given(
    body=st.binary(max_size=300),
    content_type=st.sampled_from(
        [
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=xyz",
            "multipart/form-data",
            "application/json",
            "text/plain; charset=utf-8",
            "application/x-www-form-urlencoded; charset=latin-1",
        ]
    ),
)
def test_raw_bodies_never_give_a_5xx(body: bytes, content_type: str) -> None:
    client = Client()
    for url in ("/signup/", REFRESH_URL):
        response = client.generic("POST", url, body, content_type=content_type)
        assert response.status_code in (200, 400), (url, response.status_code)
        if url == "/signup/" and response.status_code == 200:
            assert not User.objects.exists()


@few
@given(key=short_text)
def test_image_urls_with_garbage_keys_are_gone_or_not_found(key: str) -> None:
    response = Client().get(f"/gancaptcha/{quote(key, safe='')}/image.png")
    assert response.status_code in (404, 410)


@few
@given(tail=st.binary(max_size=60))
def test_raw_garbage_paths_are_not_server_errors(tail: bytes) -> None:
    # Percent-encoded bytes that need not be UTF-8, slashes and all.
    path = "/gancaptcha/" + "".join(f"%{b:02X}" for b in tail) + "/image.png"
    response = Client().get(path)
    assert response.status_code in (400, 404, 410)


@few
@given(
    old_key=posted_value,
    extra=st.dictionaries(short_text, hostile_text, max_size=2),
)
def test_refresh_with_garbage_issues_a_fresh_challenge(
    old_key: Any, extra: dict[str, str]
) -> None:
    data: dict[str, Any] = {k: v for k, v in extra.items() if k != "key"}
    if old_key is not None:
        data["key"] = old_key
    response = Client().post(REFRESH_URL, data)
    assert response.status_code == 200
    assert challenges.get_png(response.json()["key"]) is not None
