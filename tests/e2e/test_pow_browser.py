"""Chromium solves the shipped proof-of-work script's puzzles, as the server checks."""

from __future__ import annotations

from typing import Any

import pytest
from pytest_django import Settings as SettingsWrapper

from django.contrib.auth.models import User

from gancaptcha_field import pow as proof
from gancaptcha_field.testing import answer_for
from gancaptcha_lab import pow as lab_pow
from tests.e2e.conftest import both_servers

PASSWORD = "correct-horse-battery-staple-42"


@pytest.fixture
def pow_page(page: Any, settings: SettingsWrapper) -> Any:
    """The signup page with a light proof of work, once the page has solved it."""
    settings.GANCAPTCHA_POW = {"answers": True, "iterations": 200}
    page.goto("/signup/")
    # The page's script solves the puzzle in Web Workers and fills the input.
    page.wait_for_function(
        "() => document.querySelector('input[data-gancaptcha-pow]').value !== ''"
    )
    return page


def test_chromium_solutions_pass_the_server_check(
    settings: SettingsWrapper, browser: Any
) -> None:
    settings.GANCAPTCHA_POW = {"iterations": 50}
    # chromium_cost() raises unless every solution passes pow.check().
    cost = lab_pow.chromium_cost(tries=8, attempts=3, browser=browser)
    assert cost.attempts == 3


@pytest.mark.django_db(transaction=True)
@both_servers
def test_signup_with_proof_of_work_in_chromium(pow_page: Any) -> None:
    page = pow_page
    key = page.locator("input[name=captcha_0]").input_value()
    solution = page.locator("input[name=captcha_pow]").input_value()
    page.fill("#id_username", "ada")
    page.fill("#id_password1", PASSWORD)
    page.fill("#id_password2", PASSWORD)
    page.fill("#id_captcha_1", answer_for(key))
    page.click("main button[type=submit]")
    page.wait_for_url("**/welcome/")
    assert User.objects.filter(username="ada").exists()
    assert solution.count(".") == 3


@pytest.mark.django_db(transaction=True)
@both_servers
def test_a_refreshed_challenge_gets_its_own_solution(pow_page: Any) -> None:
    page = pow_page
    first = page.locator("input[name=captcha_pow]").input_value()
    page.click(".gancaptcha-refresh")
    page.wait_for_function(
        "(old) => { const v = document.querySelector("
        "'input[data-gancaptcha-pow]').value; return v !== '' && v !== old; }",
        arg=first,
    )
    key = page.locator("input[name=captcha_0]").input_value()
    assert proof.check(key, page.locator("input[name=captcha_pow]").input_value())
