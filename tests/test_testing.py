"""gancaptcha_field.testing, and the docs' examples of it, run as they stand."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pytest_django import Settings

from django import forms
from django.test import Client

from gancaptcha_field import challenges
from gancaptcha_field.fields import GanCaptchaField
from gancaptcha_field.testing import answer_for, passing_data, solve, solve_all
from gancaptcha_field.widgets import GanCaptchaWidget
from tests.utils import BrokenRegistry, Clock

PAGE = Path(__file__).resolve().parent.parent / "docs" / "testing.md"


def page_examples() -> list[str]:
    """The Python blocks of the docs' testing page, in order."""
    text = PAGE.read_text(encoding="utf-8")
    return re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)


# The page's examples become tests of this module: they are collected, get
# their fixtures and fail here exactly as they would in a reader's project.
EXAMPLES = page_examples()
for _number, _code in enumerate(EXAMPLES, start=1):
    exec(compile(_code, f"docs/testing.md (example {_number})", "exec"))

PAGE_TESTS = [
    "test_signup_with_the_real_captcha",
    "test_a_wrong_answer_keeps_the_user_out",
    "test_signup_with_the_fixture",
    "test_signup_in_test_mode",
]


class CaptchaForm(forms.Form):
    captcha = GanCaptchaField()


class TwoCaptchasForm(forms.Form):
    first = GanCaptchaField()
    second = GanCaptchaField(widget=GanCaptchaWidget(id_prefix="other"))


def test_page_examples_are_all_here() -> None:
    assert len(EXAMPLES) == 3
    for name in PAGE_TESTS:
        assert callable(globals().get(name)), f"docs/testing.md lacks {name}"


@pytest.mark.usefixtures("captcha_models")
@pytest.mark.django_db
class TestSolve:
    def test_from_a_response(self, client: Client) -> None:
        page = client.get("/signup/")
        data = solve(page)
        assert set(data) == {"captcha_0", "captcha_1"}
        assert data["captcha_1"] == answer_for(data["captcha_0"])
        assert CaptchaForm(data=data).is_valid()

    def test_from_html_a_form_and_a_bound_field(self) -> None:
        for source in (CaptchaForm().as_div(), CaptchaForm(), CaptchaForm()["captcha"]):
            data = solve(source)
            assert CaptchaForm(data=data).is_valid()

    def test_bytes_and_prefixed_forms(self) -> None:
        form = CaptchaForm(prefix="signup")
        data = solve(form.as_div().encode())
        assert set(data) == {"signup-captcha_0", "signup-captcha_1"}
        assert CaptchaForm(prefix="signup", data=data).is_valid()
        assert solve(CaptchaForm(prefix="signup"), name="captcha")

    def test_several_captchas(self) -> None:
        form = TwoCaptchasForm()
        html = form.as_div()
        found = solve_all(html)
        assert [sorted(d) for d in found] == [
            ["first_0", "first_1"],
            ["second_0", "second_1"],
        ]
        with pytest.raises(LookupError, match="found 2"):
            solve(html)
        assert solve(html, name="second") == found[1]
        assert TwoCaptchasForm(data=found[0] | found[1]).is_valid()

    def test_from_the_json_api(self, client: Client) -> None:
        response = client.post("/gancaptcha/issue/")
        data = solve(response)
        assert data == {"key": response.json()["key"], "answer": data["answer"]}
        assert solve(response.json()) == data  # the payload itself works too
        assert challenges.attempt(data["key"], data["answer"]).ok
        with pytest.raises(LookupError):
            solve(response.json())  # used up by verify() above

    def test_dead_challenges_are_not_solved(
        self, clock: Clock, settings: Settings
    ) -> None:
        settings.GANCAPTCHA_TIMEOUT = 60
        used = CaptchaForm().as_div()
        challenges.attempt(solve(used)["captcha_0"], "0000")
        expired = CaptchaForm().as_div()
        clock.advance(61)
        for html in (used, expired):
            assert solve_all(html) == []
            with pytest.raises(LookupError, match="found 0"):
                solve(html)

    def test_answer_for_refuses_dead_or_garbage_keys(self) -> None:
        challenge = challenges._create_with_answer("1234")
        assert answer_for(challenge.key) == "1234"
        challenges.discard(challenge.key)
        for key in (challenge.key, "", "x" * 500, "../etc"):
            with pytest.raises(LookupError):
                answer_for(key)


@pytest.mark.django_db
def test_a_page_without_a_captcha(client: Client) -> None:
    html = '<form><input type="hidden" name="token_0" value="abc"></form>'
    assert solve_all(html) == []
    with pytest.raises(LookupError, match="found 0"):
        solve(html)


def test_solve_refuses_what_it_cannot_read() -> None:
    with pytest.raises(TypeError, match="not int"):
        solve(42)


@pytest.mark.django_db
def test_passing_data_needs_test_mode(
    settings: Settings, broken_registry: BrokenRegistry
) -> None:
    assert passing_data() == {"captcha_0": "", "captcha_1": "PASS"}
    assert not CaptchaForm(data=passing_data()).is_valid()
    settings.GANCAPTCHA_TEST_MODE = True
    assert not CaptchaForm(data=passing_data()).is_valid()  # DEBUG is off here
    settings.GANCAPTCHA_TEST_MODE_ALLOW_WITHOUT_DEBUG = True
    assert CaptchaForm(data=passing_data()).is_valid()
    assert CaptchaForm(prefix="p", data=passing_data("p-captcha")).is_valid()
