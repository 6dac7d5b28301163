"""The demo's signup page in Arabic, in Chromium: laid out right to left, but the
digits read and are typed left to right, and axe-core finds nothing (issue 21)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from django.contrib.auth.models import User

from gancaptcha_field.testing import answer_for
from tests.e2e.conftest import Screenshot
from tests.e2e.test_accessibility import SUBMIT, audited, submit_a_wrong_answer
from tests.e2e.test_signup_browser import fill_account, key_of, wait_for_image

pytestmark = pytest.mark.django_db(transaction=True)

ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
# Chromium's boxes are in CSS pixels, sometimes fractional.
SLACK = 2


def box(page: Any, selector: str) -> dict[str, float]:
    found = page.locator(selector).bounding_box()
    assert found is not None, f"{selector} is not shown"
    return dict(found)


def text_box(page: Any, selector: str) -> dict[str, float]:
    """Where an element's text is drawn (a block label's box is the full width)."""
    return dict(
        page.evaluate(
            """selector => {
                const range = document.createRange();
                range.selectNodeContents(document.querySelector(selector));
                const r = range.getBoundingClientRect();
                return {x: r.x, y: r.y, width: r.width, height: r.height};
            }""",
            selector,
        )
    )


def style(page: Any, selector: str, name: str) -> str:
    return str(
        page.evaluate(
            "([s, n]) => getComputedStyle(document.querySelector(s))[n]",
            [selector, name],
        )
    )


def right(b: dict[str, float]) -> float:
    return b["x"] + b["width"]


@pytest.fixture
def arabic(new_page: Callable[..., Any]) -> Any:
    page = new_page(locale="ar")
    page.goto("/signup/")
    wait_for_image(page)
    return page


def test_the_page_is_right_to_left(arabic: Any, screenshot: Screenshot) -> None:
    page = arabic
    assert page.locator("html").get_attribute("lang") == "ar"
    assert page.locator("html").get_attribute("dir") == "rtl"
    assert style(page, ".gancaptcha", "direction") == "rtl"
    widget = box(page, ".gancaptcha")
    # The answer's label starts at the right edge of the widget.
    label = text_box(page, ".gancaptcha-label")
    assert abs(right(label) - right(widget)) <= SLACK
    assert label["x"] > widget["x"] + widget["width"] / 2
    # The picture sits at the right, and the buttons run from right to left.
    assert abs(right(box(page, ".gancaptcha-image")) - right(widget)) <= SLACK
    refresh, play = box(page, ".gancaptcha-refresh"), box(page, ".gancaptcha-play")
    assert abs(refresh["y"] - play["y"]) <= SLACK  # one row
    assert refresh["x"] > play["x"]
    assert abs(right(refresh) - right(widget)) <= SLACK
    # The same in the header: the site's name first, at the right.
    assert box(page, ".site-name")["x"] > box(page, "header nav")["x"]
    screenshot(page, "arabic")


def test_the_digits_stay_left_to_right(arabic: Any) -> None:
    page = arabic
    # The image is drawn as it is, never mirrored.
    assert style(page, ".gancaptcha-image", "transform") == "none"
    assert style(page, ".gancaptcha-image", "scale") == "none"
    # The answer is typed left to right, and still sits at the right.
    answer = "#id_captcha_1"
    assert style(page, answer, "direction") == "ltr"
    assert abs(right(box(page, answer)) - right(box(page, ".gancaptcha"))) <= SLACK
    page.locator(answer).press_sequentially("٢٥٨٠")
    # Each digit typed after the one before: the caret is at the far end.
    assert page.evaluate(
        "s => document.querySelector(s).selectionStart", answer
    ) == len("٢٥٨٠")


def test_arabic_indic_answer_signs_up(arabic: Any, screenshot: Screenshot) -> None:
    page = arabic
    fill_account(page)
    typed = answer_for(key_of(page)).translate(ARABIC_INDIC)
    page.locator("#id_captcha_1").press_sequentially(typed)
    page.click(SUBMIT)
    page.wait_for_url("**/welcome/")
    assert page.locator("h1").inner_text() == "مرحبًا، ada!"
    assert User.objects.filter(username="ada").exists()
    screenshot(page, "welcome")


def test_no_accessibility_violation_in_arabic(arabic: Any) -> None:
    audited(arabic)
    submit_a_wrong_answer(arabic)
    wait_for_image(arabic)
    assert arabic.locator("#id_captcha_1").get_attribute("aria-invalid") == "true"
    assert arabic.locator("#id_captcha_error").inner_text() == (
        "إجابة خاطئة. يُرجى المحاولة باستخدام الصورة الجديدة."
    )
    audited(arabic)
