"""Security properties: single use, expiry, secrets kept secret, test mode guarded."""

from __future__ import annotations

import base64
import hmac
import logging
import os
import random
import re
import runpy
import secrets
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pytest_django import Settings

from django.contrib.auth.models import User
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from demo_site.signup.forms import SignupForm
from gancaptcha_field import challenges
from gancaptcha_field.models import Challenge
from gancaptcha_field.stores import Issued, get_store
from tests import services
from tests.utils import Clock, find_tag, find_tags, load_signup, signup_data

MakeChallenge = Callable[[str], Issued]

ROOT = Path(__file__).resolve().parent.parent
WORKER = ROOT / "tests" / "race_worker.py"
REFUSED = "Wrong answer. Please try the new image."
RACERS = 8


def stored_answer(key: str) -> str | None:
    """The answer, read from the store (whichever GANCAPTCHA_STORE says)."""
    return get_store().get_answer(key, timezone.now())


def wrong(answer: str | None) -> str:
    assert answer is not None
    return "".join(str((int(c) + 1) % 10) for c in answer)


def captcha_errors(response: Any) -> list[tuple[str, str]]:
    errors = response.context["form"].errors.as_data().get("captcha", [])
    return [(e.code, e.messages[0]) for e in errors]


# Single use -----------------------------------------------------------------


@pytest.mark.usefixtures("captcha_models")
@pytest.mark.django_db
def test_a_replayed_post_is_refused(browser: Client) -> None:
    key, token = load_signup(browser)
    answer = stored_answer(key)
    first = browser.post("/signup/", signup_data(key, answer, "ada", token=token))
    assert first.status_code == 302
    assert User.objects.filter(username="ada").exists()
    # Someone who saw the post sends it again from their own session.
    eve = Client(enforce_csrf_checks=True)
    _, eve_token = load_signup(eve)
    replay = eve.post("/signup/", signup_data(key, answer, "eve", token=eve_token))
    assert replay.status_code == 200
    assert captcha_errors(replay) == [("invalid", REFUSED)]
    assert not User.objects.filter(username="eve").exists()


@pytest.mark.usefixtures("captcha_models")
@pytest.mark.django_db
def test_wrong_then_right_is_refused(browser: Client) -> None:
    key, token = load_signup(browser)
    answer = stored_answer(key)
    first = browser.post(
        "/signup/", signup_data(key, wrong(answer), "eve", token=token)
    )
    assert captcha_errors(first) == [("invalid", REFUSED)]
    second = browser.post("/signup/", signup_data(key, answer, "eve", token=token))
    assert captcha_errors(second) == [("invalid", REFUSED)]
    assert not User.objects.exists()


@pytest.mark.usefixtures("captcha_models")
@pytest.mark.django_db
def test_expired_unknown_and_wrong_differ_in_code_not_in_message(
    browser: Client, clock: Clock, settings: Settings
) -> None:
    settings.GANCAPTCHA_TIMEOUT = 60
    old_key, token = load_signup(browser)
    old_answer = stored_answer(old_key)
    clock.advance(61)  # time moved, not slept
    assert browser.get(f"/gancaptcha/{old_key}/image.png").status_code == 410
    expired = browser.post(
        "/signup/", signup_data(old_key, old_answer, "a", token=token)
    )
    unknown = browser.post(
        "/signup/", signup_data(secrets.token_urlsafe(24), "1234", "a", token=token)
    )
    key, token = load_signup(browser)
    answer = stored_answer(key)
    wrong_answer = browser.post(
        "/signup/", signup_data(key, wrong(answer), "a", token=token)
    )
    assert captcha_errors(expired) == [("expired", REFUSED)]
    assert captcha_errors(unknown) == [("invalid", REFUSED)]
    assert captcha_errors(wrong_answer) == [("invalid", REFUSED)]
    assert not User.objects.exists()


@pytest.mark.usefixtures("captcha_models")
@pytest.mark.django_db
def test_a_form_validated_twice_burns_its_challenge_once() -> None:
    challenge = challenges._create_with_answer("2580")
    data = signup_data(challenge.key, "2580")
    form = SignupForm(data=data)
    assert form.is_valid(), form.errors
    # A wizard's last step (or a view that re-checks) cleans the same form again.
    with CaptureQueriesContext(connection) as queries:
        form.full_clean()
        form.full_clean()
    assert form.is_valid(), form.errors
    assert not [q for q in queries if "gancaptcha" in q["sql"]]
    assert stored_answer(challenge.key) is None
    # A new form instance with the same data (formtools rebuilds its forms at
    # done()) is a second submission, so it is refused: keep the CAPTCHA on
    # the wizard's last step.
    again = SignupForm(data=data)
    assert not again.is_valid()
    assert [e.code for e in again.errors.as_data()["captcha"]] == ["invalid"]


# PostgreSQL: separate processes racing -------------------------------------


def _worker(schema: str, *args: str) -> list[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, str(WORKER), schema, *args],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


@pytest.fixture(scope="module")
def pg_database() -> Iterator[str]:
    """A fresh, migrated schema in the PostgreSQL test database, dropped after.

    Skipped when PostgreSQL does not answer; under CI=true that is a failure.
    """
    with services.postgres_schema() as schema:
        _worker(schema, "migrate")
        yield schema


def test_concurrent_posts_on_postgresql_have_one_winner(pg_database: str) -> None:
    outcomes = _worker(
        pg_database, "race", secrets.token_urlsafe(24), "3141", str(RACERS)
    )
    # RACERS processes, each with its own connection, released together; then
    # a replay, which finds nothing left.
    assert sorted(outcomes[:-1]) == sorted(["ok"] + ["unknown"] * (RACERS - 1))
    assert outcomes[-1] == "unknown"


def test_wrong_then_right_on_postgresql(pg_database: str) -> None:
    key = secrets.token_urlsafe(24)
    outcomes = _worker(pg_database, "sequence", key, "2718", "2719", "2718")
    assert outcomes == ["invalid", "unknown"]


# Secrets ---------------------------------------------------------------------


@pytest.mark.usefixtures("captcha_models")
@pytest.mark.django_db
def test_keys_are_unguessable_and_unrelated_to_seeded_globals() -> None:
    def issue(count: int) -> list[Issued]:
        random.seed(1234)
        np.random.seed(1234)
        return [challenges.create_challenge() for _ in range(count)]

    first, second = issue(6), issue(6)
    keys = [c.key for c in first + second]
    assert len(set(keys)) == len(keys)
    for key in keys:
        raw = base64.urlsafe_b64decode(key + "=" * (-len(key) % 4))
        assert len(raw) * 8 >= 128
    # Six four-digit answers match by chance with probability 1e-24.
    assert [c.answer for c in first] != [c.answer for c in second]


@pytest.mark.usefixtures("captcha_models")
@pytest.mark.django_db
def test_answers_are_compared_in_constant_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[tuple[Any, Any]] = []
    compare = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return compare(a, b)

    monkeypatch.setattr(challenges.hmac, "compare_digest", spy)
    challenge = challenges._create_with_answer("8642")
    assert challenges.attempt(challenge.key, "8642").ok
    # The answer itself (the sealed value's tag is compared the same way).
    assert (b"8642", b"8642") in calls


def _scrub(text: str, *randoms: str) -> str:
    # Random tokens could hold four digits in a row by chance; drop them.
    for value in randoms:
        text = text.replace(value, "")
    return text


@pytest.mark.usefixtures("captcha_models")
@pytest.mark.django_db
def test_the_answer_is_in_no_page_url_header_or_log(
    browser: Client, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[str] = []  # headers and text bodies, random tokens removed

    def record(response: Any, *randoms: str) -> None:
        for name, value in response.headers.items():
            seen.append(_scrub(f"{name}: {value}", *randoms))
        if response.get("Content-Type", "").startswith(("text/", "application/")):
            seen.append(_scrub(response.content.decode(), *randoms))

    with caplog.at_level(logging.DEBUG):
        page = browser.get("/signup/")
        html = page.content.decode()
        key = find_tag(html, "input", name="captcha_0")["value"]
        token = find_tags(html, "input", name="csrfmiddlewaretoken")[0]["value"]
        assert key and token
        answer = stored_answer(key)
        image_src = find_tag(html, "img", **{"class": "gancaptcha-image"})["src"]
        assert image_src and answer not in _scrub(image_src, key)
        record(page, key, token)
        record(browser.get(image_src), key, token)
        refreshed = browser.post(
            "/gancaptcha/refresh/", {"key": key}, headers={"X-CSRFToken": token}
        )
        new_key = refreshed.json()["key"]
        new_answer = stored_answer(new_key)
        record(refreshed, new_key, token)
        failed = browser.post(
            "/signup/", signup_data(new_key, wrong(new_answer), "ada", token=token)
        )
        last_key = find_tag(failed.content.decode(), "input", name="captcha_0")["value"]
        assert last_key
        last_answer = stored_answer(last_key)
        record(failed, new_key, last_key, token)
        passed = browser.post(
            "/signup/", signup_data(last_key, last_answer, "ada", token=token)
        )
        assert passed.status_code == 302
        record(passed, last_key, token, browser.cookies["sessionid"].value)
    logs = [
        _scrub(f"{r.getMessage()} {r.exc_text or ''}", key, new_key, last_key, token)
        for r in caplog.records
    ]
    assert len(seen) > 10 and logs is not None
    for secret in (answer, new_answer, last_answer):
        assert re.fullmatch(r"\d{4}", secret)
        hits = [text for text in seen + logs if secret in text]
        assert not hits, f"answer {secret} leaked: {hits[0][:200]!r}"


@pytest.mark.usefixtures("captcha_models")
@pytest.mark.django_db
def test_a_stored_challenge_prints_without_its_answer() -> None:
    challenge = challenges._create_with_answer("9090")
    stored = Challenge.objects.get(key=challenge.key)
    assert "9090" not in f"{stored} {stored!r}"


@pytest.mark.usefixtures("captcha_models")
@pytest.mark.django_db
def test_an_issued_challenge_prints_without_its_answer() -> None:
    # A repr lands in logs and error reports (e.g. a local variable in a
    # traceback), so it must not carry the answer.
    issued = challenges._create_with_answer("9090")
    assert "9090" not in f"{issued} {issued!r}"


# Test mode cannot reach production unnoticed ---------------------------------


def _demo_settings(monkeypatch: pytest.MonkeyPatch, **env: str) -> dict[str, Any]:
    for name in ("DJANGO_DEBUG", "GANCAPTCHA_TEST_MODE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(ROOT / "demo_site" / "settings.py"))


def test_demo_refuses_test_mode_without_debug(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ImproperlyConfigured, match="GANCAPTCHA_TEST_MODE"):
        _demo_settings(monkeypatch, DJANGO_DEBUG="0", GANCAPTCHA_TEST_MODE="1")


def test_demo_allows_test_mode_with_debug_and_defaults_to_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert _demo_settings(monkeypatch, GANCAPTCHA_TEST_MODE="1")["GANCAPTCHA_TEST_MODE"]
    production = _demo_settings(monkeypatch, DJANGO_DEBUG="0")
    assert production["GANCAPTCHA_TEST_MODE"] is False
    assert production["GANCAPTCHA_RATELIMIT_ENABLED"] is True
    assert "gancaptcha_field.ratelimit.RateLimitMiddleware" in production["MIDDLEWARE"]


def test_the_demo_site_does_not_start_with_test_mode_and_no_debug() -> None:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "demo_site.settings",
        "DJANGO_DEBUG": "0",
        "GANCAPTCHA_TEST_MODE": "1",
    }
    done = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert done.returncode != 0
    assert "ImproperlyConfigured" in done.stderr
    assert "refuses to start without DEBUG" in done.stderr
