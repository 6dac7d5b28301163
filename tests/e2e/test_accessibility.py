"""axe-core's WCAG 2.0, 2.1 and 2.2 A and AA rules on the signup page, in every
state of the widget we can reach, in English and Spanish (issue 19, part 4)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from pytest_django import Settings

from gancaptcha_field.testing import answer_for
from tests.conftest import BrokenRegistry
from tests.e2e.test_signup_browser import fill_account, key_of, wait_for_image

pytestmark = pytest.mark.django_db(transaction=True)

# Every rule set of WCAG 2.0, 2.1 and 2.2 at levels A and AA.
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]
LOCALES = pytest.mark.parametrize("locale", ["en-GB", "es-ES"])
SUBMIT = "main button[type=submit]"
# Expected tries of a puzzle that is never solved while a test looks (a try
# wins with probability 4 in 2**32).
NEVER = 2**30


def violations(page: Any) -> list[str]:
    """axe-core's WCAG A and AA violations on the page, one line each."""
    results = Axe().run(
        page,
        options={
            "runOnly": {"type": "tag", "values": WCAG_TAGS},
            "resultTypes": ["violations"],
        },
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at "
        + ", ".join(str(node["target"]) for node in v["nodes"])
        for v in results.response["violations"]
    ]


def audited(page: Any) -> Any:
    """Assert no violation, and that axe really ran rules on this page."""
    found = violations(page)
    assert found == [], "\n".join(found)
    ran = page.evaluate("tags => axe.getRules(tags).length", WCAG_TAGS)
    assert ran > 50  # the rule set was there, not an empty run
    return page


def wrong_answer(key: str) -> str:
    return "".join(str((int(c) + 1) % 10) for c in answer_for(key))


def submit_a_wrong_answer(page: Any) -> None:
    """Fill the account in, answer the challenge wrong, and send the form."""
    fill_account(page)
    page.fill("#id_captcha_1", wrong_answer(key_of(page)))
    page.click(SUBMIT)
    page.wait_for_load_state()


def signup_page(new_page: Callable[..., Any], locale: str) -> Any:
    """The signup page in ``locale``, its image shown."""
    page = new_page(locale=locale)
    page.goto("/signup/")
    wait_for_image(page)
    return page


def wait_for_status(page: Any) -> None:
    """Until the widget's live region says something."""
    page.wait_for_function(
        "() => document.querySelector('#id_captcha_status').textContent.trim()"
    )


def wait_for_no_reading(page: Any, state: str) -> None:
    """Until the no-reading button's run reaches ``state``."""
    page.wait_for_function(
        "state => document.querySelector('[data-gancaptcha]').dataset"
        ".noReadingState === state",
        arg=state,
    )


@LOCALES
def test_fresh_page(new_page: Callable[..., Any], locale: str) -> None:
    page = signup_page(new_page, locale)
    audited(page)


@LOCALES
def test_after_a_wrong_answer(new_page: Callable[..., Any], locale: str) -> None:
    page = signup_page(new_page, locale)
    submit_a_wrong_answer(page)
    wait_for_image(page)
    assert page.locator("#id_captcha_1").get_attribute("aria-invalid") == "true"
    audited(page)


@LOCALES
def test_refreshed(new_page: Callable[..., Any], locale: str) -> None:
    page = signup_page(new_page, locale)
    old = key_of(page)
    page.click(".gancaptcha-refresh")
    page.wait_for_function(
        "old => document.querySelector('input[name=captcha_0]').value !== old",
        arg=old,
    )
    wait_for_image(page)
    # The live region announces the new image.
    wait_for_status(page)
    audited(page)


@LOCALES
def test_audio_playing(new_page: Callable[..., Any], locale: str) -> None:
    page = signup_page(new_page, locale)
    page.click(".gancaptcha-play")
    page.wait_for_function(
        "() => { const a = document.querySelector('.gancaptcha-audio');"
        " return a.currentTime > 0 || a.readyState >= 1; }"
    )
    audited(page)


@LOCALES
def test_proof_of_work_running(
    new_page: Callable[..., Any], settings: Settings, locale: str
) -> None:
    # A puzzle that no try wins in practice (a try wins about once in 2**30),
    # so the audit runs while the workers do, whatever the key's draw.
    settings.GANCAPTCHA_POW = {"answers": True, "min_tries": NEVER, "max_tries": NEVER}
    page = signup_page(new_page, locale)
    audited(page)
    assert page.locator("input[data-gancaptcha-pow]").input_value() == ""


@LOCALES
def test_proof_of_work_done(
    new_page: Callable[..., Any], settings: Settings, locale: str
) -> None:
    settings.GANCAPTCHA_POW = {"answers": True, "iterations": 200}
    page = signup_page(new_page, locale)
    page.wait_for_function(
        "() => document.querySelector('input[data-gancaptcha-pow]').value !== ''"
    )
    audited(page)


@LOCALES
def test_no_reading_running(
    new_page: Callable[..., Any], settings: Settings, locale: str
) -> None:
    # A puzzle that no try wins in practice: the audit runs while the
    # workers do, whatever the key's draw.
    settings.GANCAPTCHA_POW = {
        "no_reading_min_tries": NEVER,
        "no_reading_max_tries": NEVER,
    }
    page = signup_page(new_page, locale)
    page.click(".gancaptcha-no-reading")
    wait_for_status(page)
    assert page.locator(".gancaptcha-no-reading").get_attribute("aria-busy") == "true"
    audited(page)


@LOCALES
def test_no_reading_done(
    new_page: Callable[..., Any], settings: Settings, locale: str
) -> None:
    settings.GANCAPTCHA_POW = {"no_reading_min_tries": 20}
    page = signup_page(new_page, locale)
    page.click(".gancaptcha-no-reading")
    wait_for_no_reading(page, "done")
    audited(page)


@LOCALES
def test_no_reading_rate_limited(
    new_page: Callable[..., Any], settings: Settings, locale: str
) -> None:
    settings.GANCAPTCHA_RATELIMIT_ENABLED = True
    settings.GANCAPTCHA_RATELIMIT_RATES = {"no_reading": "0/h"}
    page = signup_page(new_page, locale)
    page.click(".gancaptcha-no-reading")
    wait_for_no_reading(page, "failed")
    audited(page)


@LOCALES
@pytest.mark.parametrize("path", ["/login/", "/admin/login/"])
def test_login_pages(new_page: Callable[..., Any], locale: str, path: str) -> None:
    page = new_page(locale=locale)
    page.goto(path)
    wait_for_image(page)
    audited(page)


@LOCALES
def test_rate_limited(
    new_page: Callable[..., Any], settings: Settings, locale: str
) -> None:
    settings.GANCAPTCHA_RATELIMIT_ENABLED = True
    settings.GANCAPTCHA_RATELIMIT_RATES = {"fail": "1/h"}
    page = signup_page(new_page, locale)
    for _ in range(2):
        submit_a_wrong_answer(page)
    wait_for_image(page)
    error = page.locator("#id_captcha_error").inner_text()
    assert error in (
        "Too many attempts. Please wait a minute and try again.",
        "Demasiados intentos. Espere un minuto y vuelva a intentarlo.",
    )
    audited(page)


@LOCALES
def test_unavailable(
    new_page: Callable[..., Any], broken_registry: BrokenRegistry, locale: str
) -> None:
    page = new_page(locale=locale)
    page.goto("/signup/")
    assert page.locator(".gancaptcha-image").count() == 0
    audited(page)


@LOCALES
def test_every_control_has_its_visible_label_as_its_accessible_name(
    new_page: Callable[..., Any], locale: str
) -> None:
    """Chromium's accessibility tree names each control by its visible text."""
    page = signup_page(new_page, locale)
    label = page.locator(".gancaptcha-label").inner_text().strip()
    assert page.get_by_role("textbox", name=label, exact=True).count() == 1
    for selector in (
        ".gancaptcha-refresh",
        ".gancaptcha-play",
        ".gancaptcha-no-reading",
    ):
        text = page.locator(selector).inner_text().strip()
        assert text and page.get_by_role("button", name=text, exact=True).count() == 1
    alt = page.locator(".gancaptcha-image").get_attribute("alt")
    assert alt and page.get_by_role("img", name=alt, exact=True).count() == 1
    # The answer field points at its hint, which screen readers read with it.
    hint_id = page.locator(".gancaptcha-hint").get_attribute("id")
    described = page.locator("#id_captcha_1").get_attribute("aria-describedby")
    assert hint_id in described.split()


def test_the_audit_finds_a_violation_when_there_is_one(page: Any) -> None:
    """The instrument itself: break the widget in the page, and axe says so."""
    page.goto("/signup/")
    wait_for_image(page)
    page.evaluate(
        "() => { document.querySelector('.gancaptcha-image').removeAttribute('alt');"
        " document.querySelector('label.gancaptcha-label').remove(); }"
    )
    found = " ".join(violations(page))
    assert "image-alt" in found and "label" in found
