"""The shipped login forms: Django's LoginView and the admin site, each with
the CAPTCHA and, always, the way through without reading (WCAG 2.2 SC 3.3.8)."""

from __future__ import annotations

from typing import Any

import pytest
from pytest_django import Settings

from django.contrib.auth import user_login_failed
from django.contrib.auth.models import User
from django.core.cache import cache
from django.test import Client

from gancaptcha_field import pow as proof
from gancaptcha_field.testing import answer_for
from tests.utils import PASSWORD, Clock, find_tag, find_tags

pytestmark = pytest.mark.django_db

LOGINS = pytest.mark.parametrize("path", ["/login/", "/admin/login/"])


@pytest.fixture(autouse=True)
def _cheap(settings: Settings, clock: Clock) -> None:
    settings.GANCAPTCHA_POW = {
        "iterations": 10,
        "no_reading_min_tries": 4,
        "no_reading_max_tries": 64,
    }
    # Off for the site: the login forms offer the way all the same.
    settings.GANCAPTCHA_NO_READING = False
    cache.clear()


@pytest.fixture
def ada() -> User:
    return User.objects.create_user("ada", password=PASSWORD, is_staff=True)


def _page(client: Client, path: str) -> tuple[str, str, str]:
    html = client.get(path).content.decode()
    key = find_tag(html, "input", name="captcha_0")["value"]
    token = find_tags(html, "input", name="csrfmiddlewaretoken")[0]["value"]
    return key, token, html


def _login(client: Client, path: str, password: str = PASSWORD, **captcha: str) -> Any:
    key, token, _ = _page(client, path)
    data = {
        "csrfmiddlewaretoken": token,
        "username": "ada",
        "password": password,
        "captcha_0": key,
        "captcha_1": "",
    }
    for name, value in captcha.items():
        data[name] = value(key) if callable(value) else value
    return client.post(path, data)


def _no_reading(key: str) -> str:
    response = Client().post("/gancaptcha/no-reading/", {"key": key})
    given = response.json()["no_reading"]
    puzzle = proof.Puzzle(
        key, given["tries"], given["iterations"], given["salt"], proof.NO_READING
    )
    return proof.format_solution(puzzle, proof.solve(puzzle))


def _logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


@LOGINS
def test_the_page_offers_the_way_without_reading(path: str) -> None:
    _, _, html = _page(Client(), path)
    assert find_tag(html, "button", **{"class": "gancaptcha-no-reading"})
    assert find_tag(html, "input", name="captcha_no_reading")
    assert "gancaptcha-pow.js" in html  # the script that does the work


@LOGINS
def test_the_right_digits_log_in(path: str, ada: User) -> None:
    client = Client(enforce_csrf_checks=True)
    response = _login(client, path, captcha_1=answer_for)
    assert response.status_code == 302
    assert _logged_in(client)


@LOGINS
def test_no_reading_logs_in_with_no_digits_typed(path: str, ada: User) -> None:
    client = Client(enforce_csrf_checks=True)
    response = _login(client, path, captcha_no_reading=_no_reading)
    assert response.status_code == 302
    assert _logged_in(client)


@LOGINS
def test_a_refused_captcha_never_tries_the_password(path: str, ada: User) -> None:
    tried: list[Any] = []

    def failed(**kwargs: Any) -> None:
        tried.append(kwargs)

    user_login_failed.connect(failed)
    try:
        client = Client(enforce_csrf_checks=True)
        wrong = _login(client, path, password="wrong", captcha_1="0000")
        right_password = _login(client, path, captcha_1="0000")
    finally:
        user_login_failed.disconnect(failed)
    assert wrong.status_code == right_password.status_code == 200
    assert not _logged_in(client)
    assert tried == []  # authenticate() never ran: no password was tried
    assert "Wrong answer" in right_password.content.decode()


@LOGINS
def test_a_wrong_password_after_a_right_captcha_is_refused(
    path: str, ada: User
) -> None:
    client = Client(enforce_csrf_checks=True)
    response = _login(client, path, password="wrong", captcha_1=answer_for)
    assert response.status_code == 200
    assert not _logged_in(client)
