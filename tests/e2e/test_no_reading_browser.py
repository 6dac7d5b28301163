"""The way through without reading, in Chromium: keyboard only, at the default
difficulty; the logins it must serve; its limit and its reset on refresh."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pytest_django import Settings

from django.contrib.auth.models import User

from gancaptcha_field.testing import answer_for
from tests.e2e.conftest import both_servers
from tests.e2e.test_signup_browser import (
    PASSWORD,
    SUBMIT,
    fill_account,
    focused,
    key_of,
    wait_for_image,
)

pytestmark = pytest.mark.django_db(transaction=True)

BUTTON = ".gancaptcha-no-reading"
STATUS = "#id_captcha_status"


# The shipped difficulty's tries follow a geometric law: about 3 s a pass
# here, and a pass past 40 times the mean has odds of e**-40. Wait that long,
# so that the verdict never rests on a slow draw.
SHIPPED_WAIT_MS = 240_000


def wait_for_state(page: Any, state: str, timeout: float | None = None) -> None:
    page.wait_for_function(
        "s => document.querySelector('[data-gancaptcha]').dataset.noReadingState === s",
        arg=state,
        timeout=timeout,
    )


def record_announcements(page: Any) -> None:
    """Keep every text the status region shows, and whether the button was busy."""
    page.evaluate(
        """sel => {
            window.announced = [];
            window.sawBusy = false;
            const status = document.querySelector(sel);
            new MutationObserver(() => window.announced.push(status.textContent))
                .observe(status, {childList: true, characterData: true, subtree: true});
            const button = document.querySelector('.gancaptcha-no-reading');
            new MutationObserver(() => {
                if (button.getAttribute('aria-busy') === 'true') window.sawBusy = true;
            }).observe(button, {attributes: true});
        }""",
        STATUS,
    )


def test_signup_by_keyboard_alone_without_reading(page: Any, screenshot: Any) -> None:
    """At the shipped difficulty: the real work, as a visitor's browser does it."""
    page.goto("/signup/")
    wait_for_image(page)
    page.keyboard.type("grace")
    for text in ("Tab", PASSWORD, "Tab", PASSWORD):
        page.keyboard.press(text) if text == "Tab" else page.keyboard.type(text)
    for _ in range(3):  # past the new-image and play buttons
        page.keyboard.press("Tab")
    assert focused(page) == "button.gancaptcha-no-reading"
    assert page.get_by_role("button", name="Verify without reading").count() == 1
    record_announcements(page)
    page.keyboard.press("Enter")
    wait_for_state(page, "done", timeout=SHIPPED_WAIT_MS)
    page.wait_for_function(
        "sel => document.querySelector(sel).textContent.startsWith('Verified.')",
        arg=STATUS,
    )
    # What the live region said, in order, and that the button was busy:
    # however quickly the puzzle fell, the start was announced before the end.
    said, busy = page.evaluate("() => [window.announced, window.sawBusy]")
    spoken = [text for text in said if text]
    assert spoken[0].startswith("Verifying without reading.")
    assert spoken[-1].startswith("Verified.")
    assert busy
    # The focus stays where it was; the button says it has nothing left to do.
    assert focused(page) == "button.gancaptcha-no-reading"
    assert page.locator(BUTTON).get_attribute("aria-disabled") == "true"
    screenshot(page, "verified")
    page.keyboard.press("Tab")  # the empty answer field
    page.keyboard.press("Tab")  # the submit button
    page.keyboard.press("Enter")
    page.wait_for_url("**/welcome/")
    assert User.objects.filter(username="grace").exists()


@pytest.mark.parametrize("path", ["/login/", "/admin/login/"])
def test_the_logins_let_people_in_without_reading(
    new_page: Callable[..., Any], settings: Settings, path: str
) -> None:
    settings.GANCAPTCHA_NO_READING = False  # the logins offer it regardless
    settings.GANCAPTCHA_POW = {"no_reading_min_tries": 20}
    User.objects.create_user("ada", password=PASSWORD, is_staff=True)
    page = new_page()
    page.goto(path)
    wait_for_image(page)
    page.fill("input[name=username]", "ada")
    page.fill("input[name=password]", PASSWORD)
    page.click(BUTTON)
    wait_for_state(page, "done")
    page.click("input[type=submit], main button[type=submit]")
    page.wait_for_load_state()
    assert "/login/" not in page.url


def test_past_the_limit_it_says_so_and_the_digits_still_work(
    page: Any, settings: Settings
) -> None:
    settings.GANCAPTCHA_RATELIMIT_ENABLED = True
    settings.GANCAPTCHA_RATELIMIT_RATES = {"no_reading": "0/h"}
    page.goto("/signup/")
    wait_for_image(page)
    page.click(BUTTON)
    wait_for_state(page, "failed")
    # The server's sentence, announced in the live region.
    page.wait_for_function(
        "sel => document.querySelector(sel).textContent.includes('too often')",
        arg=STATUS,
    )
    assert page.locator(BUTTON).get_attribute("aria-disabled") == "false"
    fill_account(page)
    page.fill("#id_captcha_1", answer_for(key_of(page)))
    page.click(SUBMIT)
    page.wait_for_url("**/welcome/")


@both_servers
def test_a_new_image_starts_over(page: Any, settings: Settings) -> None:
    settings.GANCAPTCHA_POW = {"no_reading_min_tries": 20}
    page.goto("/signup/")
    wait_for_image(page)
    page.click(BUTTON)
    wait_for_state(page, "done")
    assert page.locator("input[data-gancaptcha-no-reading]").input_value()
    old = key_of(page)
    page.click(".gancaptcha-refresh")
    page.wait_for_function(
        "old => document.querySelector('input[name=captcha_0]').value !== old",
        arg=old,
    )
    # The solution was bound to the old key: gone, and the button ready again.
    assert page.locator("input[data-gancaptcha-no-reading]").input_value() == ""
    assert page.locator(BUTTON).get_attribute("aria-disabled") == "false"
    assert (
        page.evaluate(
            "() => document.querySelector('[data-gancaptcha]').dataset.noReadingState"
        )
        is None
    )
