from __future__ import annotations

import io
import logging
import threading
from collections.abc import Callable

import pytest
from PIL import Image
from pytest_django import Settings

from django.db import connection

from gancaptcha_field import challenges, constants, sealing
from gancaptcha_field.challenges import Code
from gancaptcha_field.models import Challenge
from gancaptcha_field.supply import registry
from gancaptcha_field.supply.source import current_source
from tests.utils import Clock

MakeChallenge = Callable[[str], Challenge]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.mark.usefixtures("captcha_models")
@pytest.mark.django_db
def test_create_challenge_issues_a_random_key_and_four_digit_answer(
    settings: Settings,
) -> None:
    settings.GANCAPTCHA_TIMEOUT = 120
    first = challenges.create_challenge()
    second = challenges.create_challenge()

    for challenge in (first, second):
        assert len(challenge.answer) == constants.ANSWER_LENGTH
        assert challenge.answer.isascii() and challenge.answer.isdigit()
        # token_urlsafe(24): 32 URL-safe characters, 192 bits.
        assert len(challenge.key) >= 32
        assert challenges.is_valid_key(challenge.key)
        assert (challenge.expires_at - challenge.created_at).total_seconds() == 120
        stored = Challenge.objects.get(key=challenge.key)
        assert stored.answer != challenge.answer  # sealed at rest
        assert sealing.unseal(stored.answer) == challenge.answer
    assert first.key != second.key


def test_the_image_is_made_at_creation(
    make_challenge: MakeChallenge, settings: Settings
) -> None:
    settings.GANCAPTCHA_IMAGE_SCALE = 3
    challenge = make_challenge("0123")
    png = challenges.get_png(challenge.key)
    assert png is not None and png.startswith(PNG_SIGNATURE)
    with Image.open(io.BytesIO(png)) as image:
        assert image.size == (4 * 28 * 3, 28 * 3)


@pytest.mark.django_db
@pytest.mark.parametrize("answer", ["123", "12345", "12a4", "١٢٣٤", ""])
def test_create_refuses_answers_that_are_not_four_ascii_digits(answer: str) -> None:
    with pytest.raises(ValueError):
        challenges._create_with_answer(answer)


def test_right_answer_passes_once(make_challenge: MakeChallenge) -> None:
    challenge = make_challenge("4071")
    assert challenges.attempt(challenge.key, "4071") == challenges.Result(Code.OK)
    assert challenges.attempt(challenge.key, "4071").code is Code.UNKNOWN
    assert challenges.get_png(challenge.key) is None


def test_wrong_then_right_is_refused(make_challenge: MakeChallenge) -> None:
    challenge = make_challenge("4071")
    assert challenges.attempt(challenge.key, "4072").code is Code.INVALID
    result = challenges.attempt(challenge.key, "4071")
    assert not result.ok
    assert result.code is Code.UNKNOWN


def test_non_ascii_answers_are_folded_or_wrong_not_errors(
    make_challenge: MakeChallenge,
) -> None:
    # The one check folds decimal digits of any script, and refuses the rest.
    assert challenges.attempt(make_challenge("1234").key, "١٢٣٤").ok
    assert challenges.attempt(make_challenge("1234").key, "12з4").code is Code.INVALID
    lone = challenges.attempt(make_challenge("1234").key, "\ud800123")
    assert lone.code is Code.MALFORMED


def test_expired_and_unknown_keys_have_distinct_codes(
    make_challenge: MakeChallenge, clock: Clock, settings: Settings
) -> None:
    settings.GANCAPTCHA_TIMEOUT = 60
    challenge = make_challenge("5555")
    clock.advance(59)
    assert challenges.get_png(challenge.key) is not None
    clock.advance(1)
    assert challenges.get_png(challenge.key) is None
    assert challenges.attempt(challenge.key, "5555").code is Code.EXPIRED
    assert challenges.attempt("never-issued-key", "5555").code is Code.UNKNOWN
    # The expired row went in passing; asking again finds nothing.
    assert not Challenge.objects.filter(key=challenge.key).exists()
    assert challenges.attempt(challenge.key, "5555").code is Code.UNKNOWN


@pytest.mark.django_db
@pytest.mark.parametrize(
    "key", ["", "a" * 65, "abc\x00def", "../../etc/passwd", "ключ", "a b", "%00"]
)
def test_malformed_keys_are_unknown(key: str) -> None:
    assert challenges.attempt(key, "1234").code is Code.UNKNOWN
    assert challenges.get_png(key) is None
    challenges.discard(key)  # no error either


def test_verify_purges_other_expired_challenges(
    make_challenge: MakeChallenge, clock: Clock, settings: Settings
) -> None:
    settings.GANCAPTCHA_TIMEOUT = 60
    old = make_challenge("1111")
    clock.advance(61)
    fresh = make_challenge("2222")
    assert challenges.attempt(fresh.key, "2222").ok
    assert not Challenge.objects.filter(key=old.key).exists()


def test_purge_expired_deletes_only_expired(
    make_challenge: MakeChallenge, clock: Clock, settings: Settings
) -> None:
    settings.GANCAPTCHA_TIMEOUT = 60
    old = make_challenge("1111")
    clock.advance(30)
    fresh = make_challenge("2222")
    clock.advance(30)
    assert challenges.purge_expired() == 1
    assert list(Challenge.objects.values_list("key", flat=True)) == [fresh.key]
    assert challenges.purge_expired() == 0
    assert challenges.get_png(old.key) is None


def test_discard_kills_the_challenge(make_challenge: MakeChallenge) -> None:
    challenge = make_challenge("9876")
    challenges.discard(challenge.key)
    assert challenges.get_png(challenge.key) is None
    assert challenges.attempt(challenge.key, "9876").code is Code.UNKNOWN


@pytest.mark.parametrize("answer", ["PASS", "pass", " Pass "])
def test_test_mode_answer_passes_and_consumes(
    make_challenge: MakeChallenge, settings: Settings, answer: str
) -> None:
    settings.GANCAPTCHA_TEST_MODE = True
    settings.DEBUG = True
    challenge = make_challenge("1234")
    assert challenges.attempt(challenge.key, answer).ok
    assert challenges.get_png(challenge.key) is None
    assert challenges.attempt("any-key-at-all", answer).ok
    assert challenges.attempt("", answer).ok
    # Real answers still work the usual way in test mode.
    other = make_challenge("5678")
    assert challenges.attempt(other.key, "5679").code is Code.INVALID


def test_test_answer_fails_outside_test_mode(make_challenge: MakeChallenge) -> None:
    challenge = make_challenge("1234")
    assert challenges.attempt(challenge.key, "PASS").code is Code.INVALID


@pytest.mark.parametrize("value", ["False", "0", "off", "no", 1, "True"])
def test_no_string_turns_test_mode_on(
    make_challenge: MakeChallenge, settings: Settings, value: object
) -> None:
    settings.DEBUG = True
    settings.GANCAPTCHA_TEST_MODE = value
    challenge = make_challenge("1234")
    assert challenges.attempt(challenge.key, "PASS").code is Code.INVALID


def test_test_mode_is_refused_without_debug_and_logs_every_pass(
    make_challenge: MakeChallenge,
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings.GANCAPTCHA_TEST_MODE = True
    settings.DEBUG = False
    refused = make_challenge("1234")
    assert challenges.attempt(refused.key, "PASS").code is Code.INVALID
    assert "checked normally" in caplog.text
    settings.GANCAPTCHA_TEST_MODE_ALLOW_WITHOUT_DEBUG = True
    for _ in range(2):
        caplog.clear()
        assert challenges.attempt(make_challenge("1234").key, "PASS").ok
        (record,) = [r for r in caplog.records if "TEST MODE" in r.getMessage()]
        assert record.levelno == logging.WARNING


@pytest.mark.usefixtures("captcha_models")
@pytest.mark.django_db(transaction=True)
def test_concurrent_right_answers_have_exactly_one_winner() -> None:
    challenge = challenges._create_with_answer("3141")
    threads_count = 12
    barrier = threading.Barrier(threads_count)
    results: list[Code] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def submit() -> None:
        try:
            connection.ensure_connection()  # connect first, then race
            barrier.wait(timeout=10)
            code = challenges.attempt(challenge.key, "3141").code
            with lock:
                results.append(code)
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=submit) for _ in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert sorted(results) == sorted([Code.OK] + [Code.UNKNOWN] * (threads_count - 1))


def test_answer_for_audio_reads_without_consuming(
    make_challenge: MakeChallenge, clock: Clock, settings: Settings
) -> None:
    settings.GANCAPTCHA_TIMEOUT = 60
    challenge = make_challenge("2718")
    assert challenges.get_answer_for_audio(challenge.key) == "2718"
    assert challenges.get_answer_for_audio(challenge.key) == "2718"
    assert challenges.attempt(challenge.key, "2718").ok
    assert challenges.get_answer_for_audio(challenge.key) is None
    assert challenges.get_answer_for_audio("../etc/passwd") is None
    late = make_challenge("1111")
    clock.advance(60)
    assert challenges.get_answer_for_audio(late.key) is None


@pytest.mark.django_db
def test_checking_never_asks_the_models(
    make_challenge: MakeChallenge, monkeypatch: pytest.MonkeyPatch
) -> None:
    challenge = make_challenge("8642")

    def asked() -> None:
        raise AssertionError("attempt() asked the model registry")

    monkeypatch.setattr(registry, "get_registry", asked)
    assert challenges.attempt(challenge.key, "8642").ok


@pytest.mark.django_db
def test_pool_only_never_asks_the_models(
    settings: Settings, broken_registry: object
) -> None:
    # A process that draws cannot issue without its models...
    with pytest.raises(challenges.CaptchaUnavailable) as raised:
        challenges.create_challenge()
    assert not isinstance(raised.value, challenges.PoolEmpty)
    settings.GANCAPTCHA_SOURCE = "pool"
    # ...a pool-only one needs none; an empty pool shows when one is asked for.
    assert not current_source().draws
    with pytest.raises(challenges.PoolEmpty):
        challenges.create_challenge()
