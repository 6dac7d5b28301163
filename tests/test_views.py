from __future__ import annotations

from collections.abc import Callable

import pytest
from pytest_django import Settings

from django.test import Client
from django.urls import reverse

from gancaptcha_field import challenges
from gancaptcha_field.models import Challenge
from tests.utils import BrokenRegistry, Clock

MakeChallenge = Callable[[str], Challenge]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
REFRESH_URL = "/gancaptcha/refresh/"


def image_url(key: str) -> str:
    return reverse("gancaptcha:image", kwargs={"key": key})


def csrf_client() -> tuple[Client, str]:
    """A client that enforces CSRF, and a token obtained the way a browser would."""
    client = Client(enforce_csrf_checks=True)
    assert client.get("/signup/").status_code == 200
    return client, client.cookies["csrftoken"].value


def test_urls() -> None:
    assert reverse("gancaptcha:refresh") == REFRESH_URL
    assert image_url("abc_-1") == "/gancaptcha/abc_-1/image.png"


def test_image_serves_the_stored_png_uncached(
    client: Client, make_challenge: MakeChallenge
) -> None:
    challenge = make_challenge("1234")
    response = client.get(image_url(challenge.key))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["Cache-Control"] == "no-store"
    assert response.content.startswith(PNG_SIGNATURE)
    assert response.content == challenges.get_png(challenge.key)
    # Viewing does not use the challenge up.
    assert client.get(image_url(challenge.key)).status_code == 200


def test_image_head_is_allowed_and_post_is_not(
    client: Client, make_challenge: MakeChallenge
) -> None:
    challenge = make_challenge("1234")
    assert client.head(image_url(challenge.key)).status_code == 200
    assert client.post(image_url(challenge.key)).status_code == 405


def test_used_key_is_gone(client: Client, make_challenge: MakeChallenge) -> None:
    challenge = make_challenge("1234")
    challenges.attempt(challenge.key, "0000")
    response = client.get(image_url(challenge.key))
    assert response.status_code == 410
    assert response["Cache-Control"] == "no-store"


def test_expired_key_is_gone(
    client: Client, make_challenge: MakeChallenge, clock: Clock, settings: Settings
) -> None:
    settings.GANCAPTCHA_TIMEOUT = 60
    challenge = make_challenge("1234")
    clock.advance(60)
    assert client.get(image_url(challenge.key)).status_code == 410


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    [
        "/gancaptcha/neverissuedbutwellformedkey0000000/image.png",
        "/gancaptcha/" + "a" * 5000 + "/image.png",
        "/gancaptcha/%00/image.png",
        "/gancaptcha/abc%00def/image.png",
        "/gancaptcha/%D0%BA%D0%BB%D1%8E%D1%87/image.png",
        "/gancaptcha/a%20b/image.png",
        "/gancaptcha/'%3B--/image.png",
        "/gancaptcha/../image.png",
        "/gancaptcha//image.png",
    ],
)
def test_garbage_keys_are_gone_or_not_found(client: Client, path: str) -> None:
    assert client.get(path).status_code in (404, 410)


def test_refresh_issues_a_new_challenge_and_discards_the_old(
    make_challenge: MakeChallenge,
) -> None:
    old = make_challenge("1234")
    client, token = csrf_client()
    response = client.post(
        REFRESH_URL, {"key": old.key}, headers={"X-CSRFToken": token}
    )
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    data = response.json()
    assert set(data) == {"key", "image_url", "image_2x_url", "audio_url"}
    assert data["key"] != old.key
    assert data["image_url"] == image_url(data["key"])
    assert challenges.get_png(old.key) is None
    assert client.get(data["image_url"]).status_code == 200


def test_refresh_without_an_old_key(make_challenge: MakeChallenge) -> None:
    client, token = csrf_client()
    response = client.post(REFRESH_URL, headers={"X-CSRFToken": token})
    assert response.status_code == 200
    assert challenges.get_png(response.json()["key"]) is not None


@pytest.mark.usefixtures("captcha_models")
@pytest.mark.django_db
def test_refresh_tolerates_a_garbage_old_key() -> None:
    client, token = csrf_client()
    response = client.post(
        REFRESH_URL, {"key": "x\x00" * 1000}, headers={"X-CSRFToken": token}
    )
    assert response.status_code == 200


@pytest.mark.django_db
def test_refresh_requires_csrf() -> None:
    client = Client(enforce_csrf_checks=True)
    assert client.post(REFRESH_URL).status_code == 403
    assert Challenge.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["get", "head", "put", "delete"])
def test_refresh_is_post_only(client: Client, method: str) -> None:
    assert getattr(client, method)(REFRESH_URL).status_code == 405
    assert Challenge.objects.count() == 0


@pytest.mark.django_db
def test_refresh_reports_unavailable_models(broken_registry: BrokenRegistry) -> None:
    client, token = csrf_client()
    response = client.post(REFRESH_URL, headers={"X-CSRFToken": token})
    assert response.status_code == 503
    assert response.json() == {
        "error": "unavailable",
        "message": "CAPTCHA temporarily unavailable. Please try again later.",
    }
