from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pytest_django import DjangoAssertNumQueries, Settings

from django import forms
from django.core.exceptions import ValidationError
from django.db import DatabaseError

from gancaptcha_field import challenges
from gancaptcha_field.fields import GanCaptchaField, normalise_answer
from gancaptcha_field.models import Challenge
from gancaptcha_field.stores import DatabaseStore
from gancaptcha_field.supply import registry
from tests.utils import BrokenRegistry, Clock

MakeChallenge = Callable[[str], Challenge]


class CaptchaForm(forms.Form):
    captcha = GanCaptchaField()


def submit(key: Any, answer: Any) -> CaptchaForm:
    return CaptchaForm(data={"captcha_0": key, "captcha_1": answer})


def error_codes(form: CaptchaForm) -> list[str]:
    assert not form.is_valid()
    return [error.code for error in form.errors.as_data()["captcha"]]  # type: ignore[misc]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1234", "1234"),
        (" 12 34 ", "1234"),
        ("\t1\n2\r3\u00a04\u3000", "1234"),
        ("١٢٣٤", "1234"),  # Arabic-Indic
        ("۱۲۳۴", "1234"),  # Extended Arabic-Indic (Persian)
        ("\uff11\uff12\uff13\uff14", "1234"),  # fullwidth
        ("१२३४", "1234"),  # Devanagari
        ("12a4", "12a4"),
        ("½²", "½²"),  # numeric but not decimal digits: left alone
        ("", ""),
    ],
)
def test_normalise_answer(raw: str, expected: str) -> None:
    assert normalise_answer(raw) == expected


def test_right_answer_is_valid_and_cleans_to_the_key(
    make_challenge: MakeChallenge,
) -> None:
    challenge = make_challenge("2580")
    form = submit(challenge.key, "2580")
    assert form.is_valid(), form.errors
    assert form.cleaned_data["captcha"] == challenge.key


@pytest.mark.parametrize(
    "typed",
    [
        " 2 5 8 0 ",
        "٢٥٨٠",  # Arabic-Indic, as typed on an Arabic keyboard
        "۲۵۸۰",  # Eastern Arabic-Indic (Persian, Urdu)
        "\uff12 \uff15 \uff18 \uff10",  # full-width, from a CJK input method
        "२५८०",  # Devanagari
    ],
)
def test_spaces_and_unicode_digits_are_accepted(
    make_challenge: MakeChallenge, typed: str
) -> None:
    challenge = make_challenge("2580")
    assert submit(challenge.key, typed).is_valid()


def test_wrong_answer_is_invalid_and_consumes_the_challenge(
    make_challenge: MakeChallenge,
) -> None:
    challenge = make_challenge("2580")
    form = submit(challenge.key, "2581")
    assert error_codes(form) == ["invalid"]
    assert form.errors["captcha"] == ["Wrong answer. Please try the new image."]
    assert error_codes(submit(challenge.key, "2580")) == ["invalid"]


def test_replay_in_a_new_form_is_refused(make_challenge: MakeChallenge) -> None:
    challenge = make_challenge("2580")
    assert submit(challenge.key, "2580").is_valid()
    assert error_codes(submit(challenge.key, "2580")) == ["invalid"]


def test_expired_challenge_has_its_own_code(
    make_challenge: MakeChallenge, clock: Clock, settings: Settings
) -> None:
    settings.GANCAPTCHA_TIMEOUT = 60
    challenge = make_challenge("2580")
    clock.advance(61)
    assert error_codes(submit(challenge.key, "2580")) == ["expired"]


def test_empty_answer_is_required_and_still_consumes(
    make_challenge: MakeChallenge,
) -> None:
    challenge = make_challenge("2580")
    assert error_codes(submit(challenge.key, "   ")) == ["required"]
    assert challenges.get_png(challenge.key) is None


@pytest.mark.usefixtures("captcha_models")
@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "code"),
    [
        ({}, "required"),
        ({"captcha_0": "somekey"}, "required"),
        ({"captcha_1": "1234"}, "invalid"),
    ],
)
def test_missing_sub_fields(data: dict[str, str], code: str) -> None:
    assert error_codes(CaptchaForm(data=data)) == [code]


def _hostile_cases(key: str) -> list[tuple[Any, Any]]:
    return [
        ([key], ["2580"]),
        (key, ["2580", "2580"]),
        ({"k": key}, "2580"),
        (key, 2580),
        (key, "2" * 100_000),
        (key, "25\x0080"),
        (key, "\x00\x00\x00\x00"),
        ("k" * 100_000, "2580"),
        (key + "\x00", "2580"),
        ("ключ", "2580"),
        (key, "2580\U0001f600"),
        (key, "<script>"),
        (None, None),
    ]


@pytest.mark.parametrize("case", range(len(_hostile_cases(""))))
def test_hostile_input_is_a_validation_error(
    make_challenge: MakeChallenge, case: int
) -> None:
    challenge = make_challenge("2580")
    key, answer = _hostile_cases(challenge.key)[case]
    codes = error_codes(submit(key, answer))
    assert codes in (["invalid"], ["required"])


@pytest.mark.usefixtures("captcha_models")
@pytest.mark.django_db
@pytest.mark.parametrize(
    "value", [None, "", [], "a string", 42, ["a", "b", "c"], [None, None], ({},)]
)
def test_field_clean_never_raises_anything_but_validation_error(value: Any) -> None:
    with pytest.raises(ValidationError):
        GanCaptchaField().clean(value)


def test_validated_twice_checks_once(
    make_challenge: MakeChallenge,
    django_assert_num_queries: DjangoAssertNumQueries,
) -> None:
    challenge = make_challenge("2580")
    form = submit(challenge.key, "2580")
    assert form.is_valid()
    with django_assert_num_queries(0):
        form.full_clean()
    assert form.is_valid(), form.errors
    assert form.cleaned_data["captcha"] == challenge.key


def test_wrong_answer_validated_twice_keeps_its_error(
    make_challenge: MakeChallenge,
    django_assert_num_queries: DjangoAssertNumQueries,
) -> None:
    challenge = make_challenge("2580")
    form = submit(challenge.key, "0000")
    assert error_codes(form) == ["invalid"]
    with django_assert_num_queries(0):
        form.full_clean()
    assert error_codes(form) == ["invalid"]


def test_forms_do_not_share_remembered_results(make_challenge: MakeChallenge) -> None:
    first, second = make_challenge("2580"), make_challenge("1111")
    assert submit(first.key, "2580").is_valid()
    # A new form must look its (different) data up afresh.
    assert submit(second.key, "1111").is_valid()
    assert error_codes(submit(first.key, "2580")) == ["invalid"]


@pytest.mark.parametrize("answer", ["PASS", "pass", " p a s s "])
def test_test_mode_passes_with_the_test_answer(
    make_challenge: MakeChallenge, settings: Settings, answer: str
) -> None:
    settings.GANCAPTCHA_TEST_MODE = True
    settings.GANCAPTCHA_TEST_MODE_ALLOW_WITHOUT_DEBUG = True  # pytest: DEBUG off
    challenge = make_challenge("2580")
    assert submit(challenge.key, answer).is_valid()
    assert challenges.get_png(challenge.key) is None
    assert submit("", answer).is_valid()
    assert error_codes(submit("", "2580")) == ["invalid"]


def test_test_answer_fails_without_test_mode(make_challenge: MakeChallenge) -> None:
    challenge = make_challenge("2580")
    assert error_codes(submit(challenge.key, "PASS")) == ["invalid"]


@pytest.mark.django_db
def test_test_mode_works_without_models(
    broken_registry: BrokenRegistry, settings: Settings
) -> None:
    settings.GANCAPTCHA_TEST_MODE = True
    settings.GANCAPTCHA_TEST_MODE_ALLOW_WITHOUT_DEBUG = True
    assert submit("", "PASS").is_valid()


def test_checking_reads_the_store_not_the_models(
    make_challenge: MakeChallenge, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A key issued before the models went away is checked as usual: checking
    # needs the store only (and never loads TensorFlow).
    challenge = make_challenge("2580")
    monkeypatch.setattr(registry, "get_registry", BrokenRegistry)
    assert submit(challenge.key, "2580").is_valid()
    assert error_codes(submit(challenge.key, "2580")) == ["invalid"]
    assert error_codes(submit("", "")) == ["required"]


def test_a_store_failure_never_validates(
    make_challenge: MakeChallenge, monkeypatch: pytest.MonkeyPatch
) -> None:
    challenge = make_challenge("2580")

    def fail(self: object, key: str, now: object) -> None:
        raise DatabaseError("the database went away")

    monkeypatch.setattr(DatabaseStore, "consume", fail)
    form = submit(challenge.key, "2580")
    assert error_codes(form) == ["unavailable"]
    assert form.errors["captcha"] == [
        "CAPTCHA temporarily unavailable. Please try again later."
    ]
