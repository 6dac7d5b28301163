"""The JSON issue endpoint, used the way a single-page app or a native app would."""

from __future__ import annotations

import base64
import io
from datetime import datetime, timedelta

import pytest
from PIL import Image
from pytest_django import Settings

from django import forms
from django.db import DatabaseError
from django.test import Client
from django.urls import reverse

from gancaptcha_field import challenges
from gancaptcha_field.fields import GanCaptchaField
from gancaptcha_field.testing import answer_for
from tests.utils import BrokenRegistry, Clock

ISSUE_URL = "/gancaptcha/issue/"


class CaptchaForm(forms.Form):
    captcha = GanCaptchaField()


@pytest.fixture
def api_client() -> Client:
    """A client with CSRF checks on and no cookies, as an API client would be."""
    return Client(enforce_csrf_checks=True)


def test_url() -> None:
    assert reverse("gancaptcha:issue") == ISSUE_URL


@pytest.mark.usefixtures("captcha_models")
@pytest.mark.django_db
class TestIssue:
    def test_issues_a_challenge_without_a_csrf_token(
        self, api_client: Client, clock: Clock, settings: Settings
    ) -> None:
        settings.GANCAPTCHA_TIMEOUT = 120
        response = api_client.post(ISSUE_URL)
        assert response.status_code == 201
        assert response["Content-Type"] == "application/json"
        assert response["Cache-Control"] == "no-store"
        data = response.json()
        assert set(data) == {
            "key",
            "image_url",
            "image_2x_url",
            "image_data_uri",
            "audio_url",
            "expires_at",
            "no_reading_url",
        }
        key = data["key"]
        assert challenges.is_valid_key(key)
        assert data["image_url"] == f"http://testserver/gancaptcha/{key}/image.png"
        assert (
            data["image_2x_url"] == f"http://testserver/gancaptcha/{key}/image@2x.png"
        )
        assert data["audio_url"] == (
            f"http://testserver/gancaptcha/{key}/audio.wav?lang=en"
        )
        assert datetime.fromisoformat(data["expires_at"]) == clock.now + timedelta(
            seconds=120
        )

    def test_urls_and_data_uri_serve_the_challenge(self, api_client: Client) -> None:
        data = api_client.post(ISSUE_URL).json()
        prefix = "data:image/png;base64,"
        assert data["image_data_uri"].startswith(prefix)
        inline = base64.b64decode(data["image_data_uri"].removeprefix(prefix))
        image = api_client.get(data["image_url"])
        assert image.status_code == 200
        assert image.content == inline
        with Image.open(io.BytesIO(inline)) as png:
            assert png.format == "PNG"
        assert api_client.get(data["image_2x_url"]).status_code == 200
        sound = api_client.get(data["audio_url"])
        assert sound.status_code == 200
        assert sound.content[:4] == b"RIFF"

    def test_audio_url_follows_the_clients_language(self, api_client: Client) -> None:
        data = api_client.post(ISSUE_URL, headers={"Accept-Language": "es"}).json()
        assert data["audio_url"].endswith("/audio.wav?lang=es")

    def test_each_call_issues_a_new_challenge(self, api_client: Client) -> None:
        keys = {api_client.post(ISSUE_URL).json()["key"] for _ in range(3)}
        assert len(keys) == 3

    def test_the_form_field_verifies_an_issued_challenge_once(
        self, api_client: Client
    ) -> None:
        key = api_client.post(ISSUE_URL).json()["key"]
        data = {"captcha_0": key, "captcha_1": answer_for(key)}
        assert CaptchaForm(data=data).is_valid()
        # Single use: the same answer again is refused, and the key is dead.
        assert not CaptchaForm(data=data).is_valid()
        assert api_client.get(f"/gancaptcha/{key}/image.png").status_code == 410

    @pytest.mark.parametrize("method", ["get", "head", "put", "delete"])
    def test_post_only(self, api_client: Client, method: str) -> None:
        response = getattr(api_client, method)(ISSUE_URL)
        assert response.status_code == 405

    def test_rate_limited(self, api_client: Client, settings: Settings) -> None:
        settings.GANCAPTCHA_RATELIMIT_ENABLED = True
        settings.GANCAPTCHA_RATELIMIT_RATES = {"create": "2/m"}
        assert api_client.post(ISSUE_URL).status_code == 201
        assert api_client.post(ISSUE_URL).status_code == 201
        response = api_client.post(ISSUE_URL)
        assert response.status_code == 429
        assert response.json()["error"] == "rate_limited"
        assert int(response["Retry-After"]) >= 1


@pytest.mark.django_db
def test_unavailable_models_give_a_json_503(
    api_client: Client, broken_registry: BrokenRegistry
) -> None:
    response = api_client.post(ISSUE_URL)
    assert response.status_code == 503
    assert response["Cache-Control"] == "no-store"
    assert response.json() == {
        "error": "unavailable",
        "message": "CAPTCHA temporarily unavailable. Please try again later.",
    }


@pytest.mark.django_db
def test_a_store_failure_gives_a_json_503(
    api_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail() -> None:
        raise DatabaseError("the database went away")

    monkeypatch.setattr(challenges, "create_challenge", fail)
    response = api_client.post(ISSUE_URL)
    assert response.status_code == 503
    assert response.json()["error"] == "unavailable"
