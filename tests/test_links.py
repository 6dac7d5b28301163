from __future__ import annotations

import secrets

import pytest
from pytest_django import Settings

from django.urls import reverse, set_script_prefix
from django.utils import translation

from gancaptcha_field import links

NAMES = ("gancaptcha:image", "gancaptcha:image_2x", "gancaptcha:audio")


def reversed_urls(key: str) -> list[str]:
    return [reverse(name, kwargs={"key": key}) for name in NAMES]


def linked_urls(key: str) -> list[str]:
    return [links.image_url(key), links.image_2x_url(key), links.audio_path(key)]


def test_urls_equal_reverse_for_fresh_keys() -> None:
    for _ in range(20):
        key = secrets.token_urlsafe(24)
        assert linked_urls(key) == reversed_urls(key)
        assert linked_urls(key)[0] == f"/gancaptcha/{key}/image.png"
    assert (
        links.refresh_url() == reverse("gancaptcha:refresh") == "/gancaptcha/refresh/"
    )


def test_other_keys_are_quoted_by_reverse() -> None:
    key = "a b%c?d"
    assert linked_urls(key) == reversed_urls(key)
    assert "a%20b%25c%3Fd" in links.image_url(key)


def test_script_prefix_is_followed() -> None:
    key = secrets.token_urlsafe(24)
    before = links.image_url(key)
    set_script_prefix("/mounted/here/")
    try:
        assert links.image_url(key) == f"/mounted/here/gancaptcha/{key}/image.png"
        assert links.refresh_url() == "/mounted/here/gancaptcha/refresh/"
    finally:
        set_script_prefix("/")
    assert links.image_url(key) == before


@pytest.mark.parametrize("language", ["en", "es"])
def test_urlconf_and_language_are_followed(settings: Settings, language: str) -> None:
    key = secrets.token_urlsafe(24)
    links.image_url(key)  # cached under the tests' own URLconf first
    settings.ROOT_URLCONF = "tests.urls_i18n"
    with translation.override(language):
        assert linked_urls(key) == reversed_urls(key)
        assert links.image_url(key) == f"/{language}/elsewhere/captcha/{key}/image.png"
        assert links.refresh_url() == f"/{language}/elsewhere/captcha/refresh/"
