"""The demo signup page, end to end through Django's test client."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from pytest_django import Settings

from django.contrib.auth.models import User
from django.test import Client

from gancaptcha_field.models import Challenge
from gancaptcha_field.testing import answer_for
from tests.utils import PASSWORD, find_tag, find_tags, load_signup, signup_data

pytestmark = [pytest.mark.usefixtures("captcha_models"), pytest.mark.django_db]


def test_home_links_to_signup(browser: Client) -> None:
    response = browser.get("/")
    assert response.status_code == 200
    assert find_tag(response.content.decode(), "a", href="/signup/")


def test_right_answer_creates_the_user(browser: Client) -> None:
    key, token = load_signup(browser)
    answer = answer_for(key)
    response = browser.post("/signup/", signup_data(key, answer, token=token))
    assert response.status_code == 302
    assert response["Location"] == "/welcome/"
    user = User.objects.get(username="ada")
    assert user.check_password(PASSWORD)
    welcome = browser.get("/welcome/")
    assert "Welcome, ada!" in welcome.content.decode()
    assert not Challenge.objects.filter(key=key).exists()


def test_wrong_answer_rerenders_with_a_new_challenge(browser: Client) -> None:
    key, token = load_signup(browser)
    answer = answer_for(key)
    wrong = "".join(str((int(c) + 1) % 10) for c in answer)
    response = browser.post("/signup/", signup_data(key, wrong, token=token))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Wrong answer. Please try the new image." in html
    assert find_tag(html, "input", name="username")["value"] == "ada"
    new_key = find_tag(html, "input", name="captcha_0")["value"]
    assert new_key and new_key != key
    assert Challenge.objects.filter(key=new_key).exists()
    assert not User.objects.filter(username="ada").exists()

    # The old answer is dead; the new one works.
    replay = browser.post("/signup/", signup_data(key, answer, token=token))
    assert replay.status_code == 200
    new_answer = answer_for(new_key)
    response = browser.post("/signup/", signup_data(new_key, new_answer, token=token))
    assert response.status_code == 302
    assert User.objects.filter(username="ada").exists()


def test_served_png_is_four_equal_cells_of_ink(
    browser: Client, settings: Settings
) -> None:
    settings.GANCAPTCHA_IMAGE_SCALE = 2
    response = browser.get("/signup/")
    html = response.content.decode()
    image_tag = find_tag(html, "img")
    png = browser.get(image_tag["src"])
    assert png.status_code == 200
    with Image.open(io.BytesIO(png.content)) as image:
        assert image.format == "PNG"
        assert image.size == (4 * 28 * 2, 28 * 2)
        assert image.size == (int(image_tag["width"]), int(image_tag["height"]))
        pixels = np.asarray(image.convert("L"))
    cell = pixels.shape[1] // 4
    for index in range(4):
        part = pixels[:, index * cell : (index + 1) * cell]
        # Dark ink on a light ground in every cell: a digit was drawn there.
        assert np.median(part) > 200
        assert (part < 100).sum() > 20


def test_signup_page_is_accessible_html(browser: Client) -> None:
    html = browser.get("/signup/").content.decode()
    assert '<html lang="en">' in html
    assert find_tag(html, "label", **{"for": "id_username"})
    assert find_tag(html, "label", **{"for": "id_captcha_1"})
    assert find_tag(html, "img")["alt"].startswith(
        "Type the four digits shown in this image."
    )
    # The widget's script, then the proof-of-work's, which runs the way
    # through without reading (on by default).
    assert [s["src"] for s in find_tags(html, "script")] == [
        "/static/gancaptcha_field/gancaptcha.js",
        "/static/gancaptcha_field/gancaptcha-pow.js",
    ]
    assert find_tag(html, "button", **{"class": "gancaptcha-no-reading"})
