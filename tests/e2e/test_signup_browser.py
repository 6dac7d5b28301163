"""The demo signup in a real browser: JavaScript, keyboard, audio, HiDPI, Spanish."""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from typing import Any

import pytest
from PIL import Image

from django.contrib.auth.models import User

from gancaptcha_field.testing import answer_for
from tests.e2e.conftest import Screenshot, both_servers

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "correct-horse-battery-staple-42"
SUBMIT = "main button[type=submit]"


def key_of(page: Any) -> str:
    return page.locator("input[name=captcha_0]").input_value()


def wait_for_image(page: Any) -> None:
    page.wait_for_function(
        "() => { const i = document.querySelector('.gancaptcha-image');"
        " return i && i.complete && i.naturalWidth > 0; }"
    )


def fill_account(page: Any, username: str = "ada") -> None:
    page.fill("#id_username", username)
    page.fill("#id_password1", PASSWORD)
    page.fill("#id_password2", PASSWORD)


def focused(page: Any) -> str:
    """A short description of the focused element: tag#id.class or tag[name]."""
    return page.evaluate(
        "() => { const e = document.activeElement;"
        " return e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')"
        " + (e.className ? '.' + e.className : ''); }"
    )


@both_servers
def test_signup_succeeds(page: Any, screenshot: Screenshot) -> None:
    page.goto("/signup/")
    wait_for_image(page)
    fill_account(page)
    page.fill("#id_captcha_1", answer_for(key_of(page)))
    screenshot(page, "filled")
    page.click(SUBMIT)
    page.wait_for_url("**/welcome/")
    assert page.locator("h1").inner_text() == "Welcome, ada!"
    assert User.objects.filter(username="ada").exists()
    screenshot(page, "welcome")


def test_wrong_answer_shows_an_error_and_a_new_image(
    page: Any, screenshot: Screenshot
) -> None:
    page.goto("/signup/")
    wait_for_image(page)
    old_key = key_of(page)
    old_src = page.locator(".gancaptcha-image").get_attribute("src")
    fill_account(page)
    wrong = "".join(str((int(c) + 1) % 10) for c in answer_for(old_key))
    page.fill("#id_captcha_1", wrong)
    page.click(SUBMIT)
    page.wait_for_load_state()
    wait_for_image(page)
    error = page.locator("#id_captcha_error")
    assert error.inner_text() == "Wrong answer. Please try the new image."
    answer = page.locator("#id_captcha_1")
    assert answer.get_attribute("aria-invalid") == "true"
    assert (
        answer.get_attribute("aria-describedby") == "id_captcha_error id_captcha_hint"
    )
    assert answer.input_value() == ""
    assert page.locator("#id_username").input_value() == "ada"
    assert key_of(page) != old_key
    assert page.locator(".gancaptcha-image").get_attribute("src") != old_src
    with pytest.raises(LookupError):
        answer_for(old_key)
    screenshot(page, "error")


@both_servers
def test_refresh_swaps_image_key_and_audio(page: Any, screenshot: Screenshot) -> None:
    page.goto("/signup/")
    wait_for_image(page)
    assert page.locator(".gancaptcha-reload").is_hidden()
    old_key = key_of(page)
    old_audio = page.locator(".gancaptcha-audio").get_attribute("src")
    page.fill("#id_captcha_1", "12")
    page.click(".gancaptcha-refresh")
    page.wait_for_function(
        "old => document.querySelector('input[name=captcha_0]').value !== old",
        arg=old_key,
    )
    wait_for_image(page)
    new_key = key_of(page)
    image = page.locator(".gancaptcha-image")
    assert image.get_attribute("src") == f"/gancaptcha/{new_key}/image.png"
    assert image.get_attribute("srcset") == (
        f"/gancaptcha/{new_key}/image.png 1x, /gancaptcha/{new_key}/image@2x.png 2x"
    )
    new_audio = page.locator(".gancaptcha-audio").get_attribute("src")
    assert new_audio != old_audio and new_key in new_audio
    assert page.locator("#id_captcha_1").input_value() == ""
    assert focused(page) == "input#id_captcha_1.gancaptcha-answer"
    status = page.locator("#id_captcha_status")
    status.filter(has_text="New image loaded.").wait_for()
    assert status.get_attribute("aria-live") == "polite"
    # The old challenge is gone, the new one is live.
    with pytest.raises(LookupError):
        answer_for(old_key)
    assert answer_for(new_key)
    screenshot(page, "refreshed")


@both_servers
def test_the_whole_flow_with_the_keyboard_only(
    page: Any, screenshot: Screenshot
) -> None:
    page.goto("/signup/")
    wait_for_image(page)
    # Django's signup form puts the focus on the username (autofocus).
    assert focused(page) == "input#id_username"
    page.keyboard.type("grace")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Tab")
    assert focused(page) == "button.gancaptcha-refresh"
    # A new image from the keyboard; focus lands in the answer field.
    old_key = key_of(page)
    page.keyboard.press("Enter")
    page.wait_for_function(
        "old => document.querySelector('input[name=captcha_0]').value !== old",
        arg=old_key,
    )
    wait_for_image(page)
    assert focused(page) == "input#id_captcha_1.gancaptcha-answer"
    page.keyboard.press("Shift+Tab")
    assert focused(page) == "button.gancaptcha-no-reading"
    page.keyboard.press("Shift+Tab")
    assert focused(page) == "button.gancaptcha-play"
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert focused(page) == "input#id_captcha_1.gancaptcha-answer"
    screenshot(page, "focus")
    page.keyboard.type(answer_for(key_of(page)))
    page.keyboard.press("Enter")
    page.wait_for_url("**/welcome/")
    assert page.locator("h1").inner_text() == "Welcome, grace!"


@both_servers
def test_audio_plays_the_challenge_without_taking_the_focus(page: Any) -> None:
    page.goto("/signup/")
    wait_for_image(page)
    audio = page.locator(".gancaptcha-audio")
    # The script replaces the browser's controls with the play button.
    assert audio.is_hidden()
    assert page.locator(".gancaptcha-play").is_visible()
    src = audio.get_attribute("src")
    assert src == f"/gancaptcha/{key_of(page)}/audio.wav?lang=en"

    page.focus("#id_captcha_1")
    page.click(".gancaptcha-play")
    assert focused(page) == "input#id_captcha_1.gancaptcha-answer"
    page.wait_for_function(
        "() => { const a = document.querySelector('.gancaptcha-audio');"
        " return a.readyState >= 1 && isFinite(a.duration); }"
    )
    duration = page.evaluate(
        "() => document.querySelector('.gancaptcha-audio').duration"
    )
    # Every file is one length (1.75 s a digit), so its size says nothing.
    assert abs(duration - 7.0) < 0.2  # Chromium reports about 7.09 s

    fetched = page.evaluate(
        """async src => {
            const response = await fetch(src);
            const bytes = new Uint8Array(await response.arrayBuffer());
            let text = "";
            for (const b of bytes.slice(0, 16)) text += String.fromCharCode(b);
            return {type: response.headers.get("content-type"), head: btoa(text),
                    size: bytes.length};
        }""",
        src,
    )
    head = base64.b64decode(fetched["head"])
    assert fetched["type"] == "audio/wav"
    assert head[:4] == b"RIFF" and head[8:12] == b"WAVE"
    assert fetched["size"] > 32_000


def test_hidpi_screens_get_the_2x_image(new_page: Callable[..., Any]) -> None:
    page = new_page(device_scale_factor=2)
    page.goto("/signup/")
    wait_for_image(page)
    image = page.locator(".gancaptcha-image")
    assert image.evaluate("i => i.currentSrc").endswith("/image@2x.png")
    width = int(image.get_attribute("width"))
    # naturalWidth is corrected for the 2x density; the file has twice the pixels.
    assert image.evaluate("i => i.naturalWidth") == width
    png = page.request.get(image.evaluate("i => i.currentSrc")).body()
    with Image.open(io.BytesIO(png)) as picture:
        assert picture.size == (2 * width, 2 * int(image.get_attribute("height")))


def test_spanish_page_via_the_language_switcher(
    page: Any, screenshot: Screenshot
) -> None:
    page.goto("/signup/")
    page.select_option("#language-select", "es")
    page.click("form.language button")
    page.wait_for_url("**/signup/")
    wait_for_image(page)
    assert page.locator("html").get_attribute("lang") == "es"
    assert page.locator("h1").inner_text() == "Crear una cuenta"
    assert (
        page.locator(".gancaptcha-image")
        .get_attribute("alt")
        .startswith("Escriba los cuatro dígitos")
    )
    assert page.locator(".gancaptcha-audio").get_attribute("src").endswith("lang=es")
    page.click(".gancaptcha-refresh")
    page.locator("#id_captcha_status").filter(
        has_text="Nueva imagen cargada."
    ).wait_for()
    screenshot(page, "es")


def test_spanish_from_the_browsers_language(new_page: Callable[..., Any]) -> None:
    page = new_page(locale="es-ES")
    page.goto("/signup/")
    assert page.locator(SUBMIT).inner_text() == "Registrarse"


def test_without_javascript_the_form_still_works(
    new_page: Callable[..., Any], screenshot: Screenshot
) -> None:
    page = new_page(java_script_enabled=False)
    page.goto("/signup/")
    assert page.locator(".gancaptcha-refresh").is_hidden()
    assert page.locator(".gancaptcha-play").is_hidden()
    assert page.locator(".gancaptcha-audio").is_visible()
    reload_link = page.locator(".gancaptcha-reload")
    assert reload_link.is_visible()
    screenshot(page, "nojs")
    old_key = key_of(page)
    reload_link.click()
    page.wait_for_load_state()
    assert key_of(page) != old_key
    fill_account(page, "linus")
    page.fill("#id_captcha_1", answer_for(key_of(page)))
    page.click(SUBMIT)
    page.wait_for_url("**/welcome/")
    assert page.locator("h1").inner_text() == "Welcome, linus!"


def test_how_it_works_page(page: Any, screenshot: Screenshot) -> None:
    page.goto("/how-it-works/")
    assert page.locator("h1").inner_text() == "How it works"
    digits = page.locator(".digit img")
    assert digits.count() == 10
    for index in range(10):
        assert digits.nth(index).evaluate("i => i.complete && i.naturalWidth") == 84
    screenshot(page, "page")
