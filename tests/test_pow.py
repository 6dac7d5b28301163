"""The proof-of-work: puzzles bound to their key and difficulty, and its price."""

from __future__ import annotations

import pytest
from pytest_django import Settings as SettingsWrapper

from django.core.cache import cache

from gancaptcha_field import pow as proof

KEY = "k" * 32


@pytest.fixture(autouse=True)
def _pow_on(settings: SettingsWrapper) -> None:
    settings.GANCAPTCHA_POW = True
    # Cheap tries: these tests are about the rules, not the price.
    settings.GANCAPTCHA_POW_ITERATIONS = 10
    settings.GANCAPTCHA_POW_MIN_TRIES = 4
    settings.GANCAPTCHA_POW_MAX_TRIES = 64
    settings.GANCAPTCHA_POW_ATTACK_RATE = 20
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
    puzzle = proof.puzzle_for(KEY, 2)  # below GANCAPTCHA_POW_MIN_TRIES
    assert not proof.check(KEY, proof.format_solution(puzzle, proof.solve(puzzle)))


def test_iterations_must_be_the_configured_ones(settings: SettingsWrapper) -> None:
    puzzle = proof.puzzle_for(KEY, 8)
    solution = proof.format_solution(puzzle, proof.solve(puzzle))
    settings.GANCAPTCHA_POW_ITERATIONS = 11
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
    settings.GANCAPTCHA_POW = False
    for _ in range(20):
        proof.record_failure()
    assert proof.failure_rate() == 0


def test_only_true_turns_it_on(settings: SettingsWrapper) -> None:
    for value in ("True", "1", 1, "on"):
        settings.GANCAPTCHA_POW = value
        assert proof.conf.POW is False
    settings.GANCAPTCHA_POW = True
    assert proof.conf.POW is True
