"""The proof-of-work: puzzles bound to their key and difficulty, and its price."""

from __future__ import annotations

import pytest
from pytest_django import Settings as SettingsWrapper

from django.contrib.auth.models import User
from django.core.cache import cache
from django.templatetags.static import static
from django.test import Client

from gancaptcha_field import challenges
from gancaptcha_field import pow as proof
from gancaptcha_field.testing import answer_for
from tests.utils import Clock, find_tag, find_tags, signup_data

KEY = "k" * 32


@pytest.fixture(autouse=True)
def _pow_on(settings: SettingsWrapper, clock: Clock) -> None:
    # The clock stands still at a window's start: the failure-rate windows
    # and the nojs limit never roll over in the middle of a test.
    # Cheap tries: these tests are about the rules, not the price.
    settings.GANCAPTCHA_POW = {
        "answers": True,
        "iterations": 10,
        "min_tries": 4,
        "max_tries": 64,
        "attack_rate": 20,
    }
    cache.clear()


def test_a_solved_puzzle_passes() -> None:
    puzzle = proof.puzzle_for(KEY, 16)
    nonce = proof.solve(puzzle)
    assert proof.check(KEY, proof.format_solution(puzzle, nonce))


def test_the_nonce_found_is_the_first_that_wins() -> None:
    puzzle = proof.puzzle_for(KEY, 16)
    nonce = proof.solve(puzzle)
    assert all(not proof.wins(puzzle, n) for n in range(nonce))


def test_a_losing_nonce_is_refused() -> None:
    puzzle = proof.puzzle_for(KEY, 16)
    loser = next(n for n in range(1000) if not proof.wins(puzzle, n))
    assert not proof.check(KEY, proof.format_solution(puzzle, loser))


def test_a_solution_is_bound_to_its_key() -> None:
    puzzle = proof.puzzle_for(KEY, 16)
    solution = proof.format_solution(puzzle, proof.solve(puzzle))
    assert not proof.check("x" * 32, solution)


def test_a_client_cannot_claim_an_easier_puzzle() -> None:
    hard = proof.puzzle_for(KEY, 64)
    easy_claim = proof.puzzle_for(KEY, 4)
    # The client knows the hard salt only: every nonce, claimed at the easiest
    # difficulty with that salt, is refused, even those that would win there.
    for nonce in range(200):
        claim = f"4.{hard.iterations}.{hard.salt}.{nonce}"
        assert not proof.check(KEY, claim)
    assert easy_claim.salt != hard.salt


def test_difficulty_outside_the_configured_range_is_refused() -> None:
    puzzle = proof.puzzle_for(KEY, 2)  # below GANCAPTCHA_POW["min_tries"]
    assert not proof.check(KEY, proof.format_solution(puzzle, proof.solve(puzzle)))


def test_iterations_must_be_the_configured_ones(settings: SettingsWrapper) -> None:
    puzzle = proof.puzzle_for(KEY, 8)
    solution = proof.format_solution(puzzle, proof.solve(puzzle))
    settings.GANCAPTCHA_POW = {**settings.GANCAPTCHA_POW, "iterations": 11}
    assert not proof.check(KEY, solution)


@pytest.mark.parametrize(
    "solution",
    [
        None,
        "",
        42,
        "8.10.abc",
        "8.10.abc.1.2",
        "x.10.abc.1",
        "8.10.abc.-1",
        "8.10.abc.\u0661",
        "8.10.abc." + "9" * 40,
        "8" * 200,
        "\ud800",
    ],
)
def test_malformed_solutions_are_refused(solution: object) -> None:
    assert not proof.check(KEY, solution)


def test_difficulty_grows_with_the_failure_rate() -> None:
    assert proof.tries_for(0) == 4
    assert proof.tries_for(20) == 64
    assert proof.tries_for(1000) == 64
    middle = proof.tries_for(10)
    assert 4 < middle < 64
    assert middle == 16  # geometric: 4 * (64 / 4) ** 0.5


def test_failures_raise_the_difficulty_for_new_puzzles() -> None:
    assert proof.current_tries() == 4
    for _ in range(20):
        proof.record_failure()
    assert proof.current_tries() == 64
    assert proof.puzzle_for(KEY).tries == 64


def test_failures_are_not_counted_when_off(settings: SettingsWrapper) -> None:
    settings.GANCAPTCHA_POW = {**settings.GANCAPTCHA_POW, "answers": False}
    for _ in range(20):
        proof.record_failure()
    assert proof.failure_rate() == 0


def test_only_true_turns_it_on(settings: SettingsWrapper) -> None:
    for value in ("True", "1", 1, "on"):
        settings.GANCAPTCHA_POW = {"answers": value}
        assert proof.conf.POW["answers"] is False
    settings.GANCAPTCHA_POW = {"answers": True}
    assert proof.conf.POW["answers"] is True


# Through the site: the demo's signup form and the JSON endpoints, real store.


def _signup_page(client: Client) -> tuple[str, dict[str, str], str]:
    """GET the signup page: the key, the pow input's attributes, the token."""
    html = client.get("/signup/").content.decode()
    key = find_tag(html, "input", name="captcha_0")["value"]
    pow_input = find_tag(html, "input", name="captcha_pow")
    token = find_tags(html, "input", name="csrfmiddlewaretoken")[0]["value"]
    return key, pow_input, token


def _signup(
    client: Client, key: str, token: str, answer: str, proof: str | None
) -> int:
    data = signup_data(key, answer, token=token)
    if proof is not None:
        data["captcha_pow"] = proof
    return client.post("/signup/", data).status_code


def _solved(key: str, pow_input: dict[str, str]) -> str:
    puzzle = proof.puzzle_for(key, int(pow_input["data-pow-tries"]))
    assert pow_input["data-pow-salt"] == puzzle.salt
    return proof.format_solution(puzzle, proof.solve(puzzle))


@pytest.mark.django_db
def test_the_page_carries_the_puzzle_and_its_script() -> None:
    response = Client().get("/signup/")
    html = response.content.decode()
    key, pow_input, _ = _signup_page(Client())
    assert pow_input["value"] == ""
    assert int(pow_input["data-pow-tries"]) == 4  # a quiet site
    assert "gancaptcha_field/gancaptcha-pow.js" in html
    # The worker's address comes from the static storage, not a guess in JS.
    assert pow_input["data-pow-worker"] == static("gancaptcha_field/pow-worker.js")
    assert key


@pytest.mark.django_db
def test_the_page_computes_one_puzzle(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[str] = []
    puzzle_for = proof.puzzle_for

    def counted(key: str, *args: object, **kwargs: object) -> proof.Puzzle:
        made.append(key)
        return puzzle_for(key, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(proof, "puzzle_for", counted)
    key, pow_input, _ = _signup_page(Client())
    assert made == [key]
    assert pow_input["data-pow-salt"] == puzzle_for(key).salt
    # The widget's two inputs and the puzzle's, each once.
    html = Client().get("/signup/").content.decode()
    assert len(find_tags(html, "input", name="captcha_pow")) == 1
    assert len(find_tags(html, "input", name="captcha_0")) == 1


@pytest.mark.django_db
def test_a_solved_puzzle_and_the_right_answer_pass() -> None:
    client = Client(enforce_csrf_checks=True)
    key, pow_input, token = _signup_page(client)
    status = _signup(client, key, token, answer_for(key), _solved(key, pow_input))
    assert status == 302
    assert User.objects.filter(username="ada").exists()


@pytest.mark.django_db
def test_a_wrong_proof_is_refused_and_uses_the_challenge_up() -> None:
    client = Client(enforce_csrf_checks=True)
    key, pow_input, token = _signup_page(client)
    answer = answer_for(key)
    puzzle = proof.puzzle_for(key, int(pow_input["data-pow-tries"]))
    loser = next(n for n in range(1000) if not proof.wins(puzzle, n))
    bad = proof.format_solution(puzzle, loser)
    assert _signup(client, key, token, answer, bad) == 200
    assert not User.objects.filter(username="ada").exists()
    assert challenges.get_answer_for_audio(key) is None  # used up
    assert proof.failure_rate() > 0  # counted towards the difficulty


@pytest.mark.django_db
def test_without_javascript_the_stricter_nojs_limit_applies(
    settings: SettingsWrapper, clock: Clock
) -> None:
    # clock: the three posts fall in one fixed window, however slow the machine.
    settings.GANCAPTCHA_RATELIMIT_ENABLED = True
    settings.GANCAPTCHA_RATELIMIT_RATES = {"nojs": "2/m", "create": None}
    client = Client(enforce_csrf_checks=True)
    outcomes = []
    for _ in range(3):
        key, _, token = _signup_page(client)
        data_status = _signup(client, key, token, answer_for(key), None)
        outcomes.append(data_status)
        User.objects.filter(username="ada").delete()
    # Two right answers without a proof pass; the third is refused unread.
    assert outcomes == [302, 302, 200]


@pytest.mark.django_db
def test_the_json_endpoints_carry_the_puzzle() -> None:
    body = Client().post("/gancaptcha/issue/").json()
    puzzle = body["pow"]
    assert puzzle["algorithm"] == proof.ALGORITHM
    assert puzzle["salt"] == proof.puzzle_for(body["key"], puzzle["tries"]).salt


@pytest.mark.django_db
def test_no_puzzle_when_off(settings: SettingsWrapper) -> None:
    settings.GANCAPTCHA_POW = {"answers": False}
    settings.GANCAPTCHA_NO_READING = False  # it needs the script too
    html = Client().get("/signup/").content.decode()
    assert "captcha_pow" not in html
    assert "gancaptcha-pow.js" not in html
    assert "pow" not in Client().post("/gancaptcha/issue/").json()
