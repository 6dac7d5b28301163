"""The DRF serializer field, behind a real APIView reached over HTTP."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from pytest_django import Settings
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from django.db import DatabaseError
from django.test import Client
from django.urls import include, path

from gancaptcha_field import challenges
from gancaptcha_field.drf import GanCaptchaSerializerField
from gancaptcha_field.stores import DatabaseStore
from gancaptcha_field.supply import registry
from gancaptcha_field.testing import answer_for
from tests.drf_views import OpenJSONView
from tests.utils import BrokenRegistry, Clock

pytestmark = [pytest.mark.urls("tests.test_drf"), pytest.mark.django_db]

WRONG = "Wrong answer. Please try the new image."
REQUIRED = "Please type the four digits shown in the image."
UNAVAILABLE = "CAPTCHA temporarily unavailable. Please try again later."
RATE_LIMITED = "Too many attempts. Please wait a minute and try again."
MALFORMED = "Send the CAPTCHA as an object with a key and an answer."


class SignupSerializer(serializers.Serializer):  # type: ignore[type-arg]
    username = serializers.CharField()
    captcha = GanCaptchaSerializerField()


class SignupView(OpenJSONView):
    def post(self, request: Request) -> Response:
        serializer = SignupSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(
            {
                "data": serializer.data,
                "captcha_key": serializer.validated_data["captcha"],
            },
            status=201,
        )


urlpatterns = [
    path("gancaptcha/", include("gancaptcha_field.urls")),
    path("api/signup/", SignupView.as_view()),
]


def post(client: Client, captcha: Any) -> Any:
    body: dict[str, Any] = {"username": "ada"}
    if captcha is not ...:
        body["captcha"] = captcha
    return client.post("/api/signup/", body, content_type="application/json")


@pytest.mark.usefixtures("captcha_models")
class TestWithModels:
    def test_issue_then_verify_once(self, client: Client) -> None:
        key = client.post("/gancaptcha/issue/").json()["key"]
        answer = answer_for(key)
        response = post(client, {"key": key, "answer": answer})
        assert response.status_code == 201
        # Write-only: the answer never comes back.
        assert response.json() == {"data": {"username": "ada"}, "captcha_key": key}
        replay = post(client, {"key": key, "answer": answer})
        assert replay.status_code == 400
        assert replay.json() == {"captcha": [WRONG]}

    @pytest.mark.parametrize("typed", [" 1 2 3 4 ", "١٢٣٤", 1234])
    def test_answers_are_normalised_as_in_the_form(
        self, client: Client, typed: object
    ) -> None:
        challenge = challenges._create_with_answer("1234")
        response = post(client, {"key": challenge.key, "answer": typed})
        assert response.status_code == 201

    def test_a_wrong_answer_uses_the_challenge_up(self, client: Client) -> None:
        challenge = challenges._create_with_answer("1234")
        response = post(client, {"key": challenge.key, "answer": "4321"})
        assert response.status_code == 400
        assert response.json() == {"captcha": [WRONG]}
        assert post(client, {"key": challenge.key, "answer": "1234"}).status_code == 400

    @pytest.mark.parametrize("answer", ["", None])
    def test_an_empty_answer_is_required_and_uses_the_challenge_up(
        self, client: Client, answer: str | None
    ) -> None:
        challenge = challenges._create_with_answer("1234")
        response = post(client, {"key": challenge.key, "answer": answer})
        assert response.status_code == 400
        assert response.json() == {"captcha": [REQUIRED]}
        assert challenges.get_png(challenge.key) is None

    @pytest.mark.parametrize("answer", ["1" * 65, True, ["1234"], {"a": 1}])
    def test_implausible_answers_are_wrong(self, client: Client, answer: Any) -> None:
        challenge = challenges._create_with_answer("1111")
        response = post(client, {"key": challenge.key, "answer": answer})
        assert response.status_code == 400
        assert response.json() == {"captcha": [WRONG]}

    def test_unknown_keys_are_wrong(self, client: Client) -> None:
        response = post(client, {"key": "nope" * 3, "answer": "1234"})
        assert response.status_code == 400
        assert response.json() == {"captcha": [WRONG]}


@pytest.mark.parametrize(
    "captcha", ["1234", ["key", "1234"], {"answer": "1234"}, {"key": 5, "answer": "1"}]
)
def test_malformed_values(client: Client, captcha: Any) -> None:
    response = post(client, captcha)
    assert response.status_code == 400
    assert response.json() == {"captcha": [MALFORMED]}


def test_missing_field(client: Client) -> None:
    response = post(client, ...)
    assert response.status_code == 400
    assert response.json() == {"captcha": [REQUIRED]}


def test_checking_needs_no_models(
    client: Client, captcha_models: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    challenge = challenges._create_with_answer("2468")
    broken = BrokenRegistry()
    monkeypatch.setattr(registry, "get_registry", lambda: broken)
    # Only the store is read: models that went missing since do not matter.
    response = post(client, {"key": challenge.key, "answer": "2468"})
    assert response.status_code == 201


def test_a_store_failure_fails_closed(
    client: Client, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def fail(self: object, key: str, now: object) -> None:
        raise DatabaseError("the database went away")

    monkeypatch.setattr(DatabaseStore, "consume", fail)
    response = post(client, {"key": "a" * 32, "answer": "1234"})
    assert response.status_code == 400
    assert response.json() == {"captcha": [UNAVAILABLE]}
    assert "could not verify a challenge" in caplog.text


def test_test_mode_passes_without_models(
    client: Client,
    settings: Settings,
    broken_registry: BrokenRegistry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings.GANCAPTCHA_TEST_MODE = True
    settings.GANCAPTCHA_TEST_MODE_ALLOW_WITHOUT_DEBUG = True  # pytest: DEBUG off
    assert post(client, {"key": "any", "answer": "PASS"}).status_code == 201
    assert "TEST MODE passed an answer" in caplog.text
    assert post(client, {"key": "any", "answer": "1234"}).status_code == 400


@pytest.mark.usefixtures("captcha_models")
def test_lone_surrogates_are_a_counted_failure_without_a_traceback(
    client: Client,
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
    clock: Clock,  # one fixed window for both posts
) -> None:
    settings.GANCAPTCHA_RATELIMIT_ENABLED = True
    settings.GANCAPTCHA_RATELIMIT_RATES = {"fail": "1/h"}
    challenge = challenges._create_with_answer("1357")
    # JSON may spell lone surrogates ("\ud800"); they are not text.
    body = (
        '{"username": "ada", '
        '"captcha": {"key": "%s", "answer": "\\ud800\\udc00\\ud800"}}'
    )
    response = client.post(
        "/api/signup/", body % challenge.key, content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json() == {"captcha": [WRONG]}
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert challenges.get_png(challenge.key) is None  # used up
    # Counted: the one failure allowed per hour is spent.
    second = challenges._create_with_answer("2468")
    response = post(client, {"key": second.key, "answer": "2468"})
    assert response.json() == {"captcha": [RATE_LIMITED]}
