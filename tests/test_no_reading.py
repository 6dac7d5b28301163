"""The way through without reading: a heavier proof-of-work passes in place of
an answer, per client at a strict rate, heavier as the site uses it more."""

from __future__ import annotations

import json

import pytest
from pytest_django import Settings

from django.contrib.auth.models import User
from django.core.cache import cache
from django.test import Client

from gancaptcha_field import challenges
from gancaptcha_field import pow as proof
from gancaptcha_field.challenges import Code
from gancaptcha_field.testing import answer_for
from tests.utils import Clock, find_tag, find_tags, signup_data

pytestmark = pytest.mark.django_db

URL = "/gancaptcha/no-reading/"


@pytest.fixture(autouse=True)
def _cheap(settings: Settings, clock: Clock) -> None:
    # Cheap tries: these tests are about the rules, not the price. The clock
    # stands at an hour's start, so the hourly window never rolls over.
    settings.GANCAPTCHA_POW = {
        "iterations": 10,
        "no_reading_min_tries": 4,
        "no_reading_max_tries": 64,
        "no_reading_attack_rate": 20,
    }
    cache.clear()


def _page(client: Client, path: str = "/signup/") -> tuple[str, str, str]:
    """GET a page with the widget: the key, the csrf token, the page."""
    html = client.get(path).content.decode()
    key = find_tag(html, "input", name="captcha_0")["value"]
    token = find_tags(html, "input", name="csrfmiddlewaretoken")[0]["value"]
    return key, token, html


def _puzzle(client: Client, key: str, **extra: str) -> proof.Puzzle:
    response = client.post(URL, {"key": key}, **extra)
    assert response.status_code == 200, response.content
    given = response.json()["no_reading"]
    assert given["key"] == key
    return proof.Puzzle(
        key, given["tries"], given["iterations"], given["salt"], proof.NO_READING
    )


def _solution(puzzle: proof.Puzzle) -> str:
    return proof.format_solution(puzzle, proof.solve(puzzle))


def _signup(client: Client, key: str, token: str, **captcha: str) -> int:
    data = {**signup_data(key, "", token=token), **captcha}
    return client.post("/signup/", data).status_code


def test_the_widget_offers_it_by_default() -> None:
    _, _, html = _page(Client())
    button = find_tag(html, "button", **{"class": "gancaptcha-no-reading"})
    assert button["data-url"] == URL
    assert "hidden" in button  # shown by the script, which can do the work
    assert find_tag(html, "input", name="captcha_no_reading")["value"] == ""
    assert "Verify without reading" in html


def test_a_solved_puzzle_passes_with_no_answer_typed_and_without_cookies() -> None:
    page = Client(enforce_csrf_checks=True)
    key, token, _ = _page(page)
    # The puzzle comes with no cookie and no CSRF token at all.
    puzzle = _puzzle(Client(enforce_csrf_checks=True), key)
    assert puzzle.tries == 4  # a quiet site
    assert _signup(page, key, token, captcha_no_reading=_solution(puzzle)) == 302
    assert User.objects.filter(username="ada").exists()
    assert challenges.get_answer_for_audio(key) is None  # used up


def test_a_json_body_is_accepted() -> None:
    key, _, _ = _page(Client())
    response = Client().post(URL, json.dumps({"key": key}), "application/json")
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"


def test_the_solution_is_single_use() -> None:
    client = Client()
    key, _, _ = _page(client)
    solution = _solution(_puzzle(client, key))
    assert challenges.attempt(key, "", no_reading=solution, allow_no_reading=True).ok
    again = challenges.attempt(key, "", no_reading=solution, allow_no_reading=True)
    assert again.code is Code.UNKNOWN


def test_a_solution_is_bound_to_its_key() -> None:
    client = Client()
    first, _, _ = _page(client)
    second, _, _ = _page(client)
    solution = _solution(_puzzle(client, first))
    result = challenges.attempt(second, "", no_reading=solution, allow_no_reading=True)
    assert result.code is Code.POW_FAILED
    assert challenges.get_answer_for_audio(second) is None  # used up all the same


def test_an_answers_proof_does_not_pass_for_a_no_reading_one(
    settings: Settings,
) -> None:
    settings.GANCAPTCHA_POW = {
        **settings.GANCAPTCHA_POW,
        "min_tries": 4,
        "max_tries": 64,
    }
    key, _, _ = _page(Client())
    light = proof.puzzle_for(key, 4)  # the answer's puzzle: another salt
    result = challenges.attempt(
        key, "", no_reading=_solution(light), allow_no_reading=True
    )
    assert result.code is Code.POW_FAILED
    # And the other way round: a no-reading solution is no answer's proof.
    key, _, _ = _page(Client())
    heavy = _solution(_puzzle(Client(), key))
    assert not proof.check(key, heavy, proof.ANSWER)
    assert proof.check(key, heavy, proof.NO_READING)


def test_a_losing_nonce_is_refused() -> None:
    key, _, _ = _page(Client())
    puzzle = _puzzle(Client(), key)
    loser = next(n for n in range(1000) if not proof.wins(puzzle, n))
    result = challenges.attempt(
        key,
        answer_for(key),  # a right answer beside a wrong proof does not help
        no_reading=proof.format_solution(puzzle, loser),
        allow_no_reading=True,
    )
    assert result.code is Code.POW_FAILED


def test_an_expired_challenge_is_refused(clock: Clock, settings: Settings) -> None:
    settings.GANCAPTCHA_TIMEOUT = 60
    key, _, _ = _page(Client())
    solution = _solution(_puzzle(Client(), key))
    clock.advance(61)
    result = challenges.attempt(key, "", no_reading=solution, allow_no_reading=True)
    assert result.code is Code.EXPIRED


def test_a_field_that_does_not_offer_it_refuses_it(settings: Settings) -> None:
    settings.GANCAPTCHA_NO_READING = False
    client = Client()
    key, token, html = _page(client)
    assert "gancaptcha-no-reading" not in html
    assert "captcha_no_reading" not in html
    # The endpoint still hands out puzzles (a login form may offer the way
    # whatever the setting); the signup form's field refuses the solution.
    solution = _solution(_puzzle(client, key))
    assert _signup(client, key, token, captcha_no_reading=solution) == 200
    assert not User.objects.filter(username="ada").exists()
    assert challenges.get_answer_for_audio(key) is None  # used up


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({}, 400),
        ({"key": ""}, 400),
        ({"key": "not a key!"}, 400),
        ({"key": "a" * 500}, 400),
        ({"key": "unknownbutwellformed"}, 410),
    ],
)
def test_bad_keys_get_clear_errors(body: dict[str, str], status: int) -> None:
    response = Client().post(URL, body)
    assert response.status_code == status
    assert response.json()["error"] in {"malformed", "gone"}
    assert response.json()["message"]


@pytest.mark.parametrize(
    "raw",
    [b"{", b"[1]", b'{"key": 5}', b"\xff\xfe", b'{"key": "' + b"a" * 2000 + b'"}'],
)
def test_bad_json_is_a_400(raw: bytes) -> None:
    response = Client().post(URL, raw, "application/json")
    assert response.status_code == 400


def test_only_post() -> None:
    assert Client().get(URL).status_code == 405


def test_a_used_key_is_gone() -> None:
    client = Client()
    key, _, _ = _page(client)
    challenges.discard(key)
    assert client.post(URL, {"key": key}).status_code == 410


def test_each_client_gets_a_few_an_hour(
    settings: Settings, fresh_counters: None
) -> None:
    settings.GANCAPTCHA_RATELIMIT_ENABLED = True
    settings.GANCAPTCHA_RATELIMIT_RATES = {"create": None}  # the default 3/h
    client = Client()
    statuses = [
        client.post(URL, {"key": _page(client)[0]}).status_code for _ in range(4)
    ]
    assert statuses == [200, 200, 200, 429]
    limited = client.post(URL, {"key": _page(client)[0]})
    assert limited.json()["error"] == "rate_limited"
    assert 0 < int(limited["Retry-After"]) <= 3600
    assert "too often" in limited.json()["message"]
    # Another address is counted apart.
    other = Client(REMOTE_ADDR="192.0.2.7")
    assert other.post(URL, {"key": _page(other)[0]}).status_code == 200


def test_difficulty_rises_with_site_wide_use() -> None:
    tries = []
    for _ in range(25):
        key, _, _ = _page(Client())
        tries.append(_puzzle(Client(), key).tries)
    assert tries[0] == 4
    assert tries == sorted(tries)  # never easier as the site uses it more
    assert tries[-1] == 64  # 20 a minute reach the maximum
    assert proof.current_tries(proof.ANSWER) == proof.tries_for(0)  # apart


def test_the_json_api_offers_it_and_drf_takes_it(settings: Settings) -> None:
    from rest_framework import serializers

    from gancaptcha_field.drf import GanCaptchaSerializerField

    class Login(serializers.Serializer):  # type: ignore[type-arg]
        captcha = GanCaptchaSerializerField()

    issued = Client().post("/gancaptcha/issue/").json()
    assert issued["no_reading_url"] == f"http://testserver{URL}"
    key = issued["key"]
    solution = _solution(_puzzle(Client(), key))
    good = Login(data={"captcha": {"key": key, "no_reading": solution}})
    assert good.is_valid(), good.errors
    replay = Login(data={"captcha": {"key": key, "no_reading": solution}})
    assert not replay.is_valid()

    settings.GANCAPTCHA_NO_READING = False
    assert "no_reading_url" not in Client().post("/gancaptcha/issue/").json()
    asked = Client().post("/gancaptcha/issue/", {"no_reading": "1"}).json()
    assert asked["no_reading_url"] == f"http://testserver{URL}"
    key = asked["key"]
    solution = _solution(_puzzle(Client(), key))
    assert not Login(data={"captcha": {"key": key, "no_reading": solution}}).is_valid()


def test_audio_has_its_own_rate(settings: Settings, fresh_counters: None) -> None:
    settings.GANCAPTCHA_RATELIMIT_ENABLED = True
    settings.GANCAPTCHA_RATELIMIT_RATES = {"create": None, "audio": "2/m"}
    client = Client()
    key, _, _ = _page(client)
    audio = [client.get(f"/gancaptcha/{key}/audio.wav").status_code for _ in range(3)]
    assert audio == [200, 200, 429]
    # The image is counted apart, under its own rate.
    assert client.get(f"/gancaptcha/{key}/image.png").status_code == 200
