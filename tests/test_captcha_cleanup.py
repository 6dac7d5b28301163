from __future__ import annotations

from collections.abc import Callable
from io import StringIO

from pytest_django import Settings

from django.core.management import call_command

from gancaptcha_field.models import Challenge
from tests.utils import Clock

MakeChallenge = Callable[[str], Challenge]


def run_cleanup() -> str:
    out = StringIO()
    call_command("captcha_cleanup", stdout=out)
    return out.getvalue()


def test_deletes_only_expired_challenges(
    make_challenge: MakeChallenge, clock: Clock, settings: Settings
) -> None:
    settings.GANCAPTCHA_TIMEOUT = 60
    make_challenge("1111")
    make_challenge("2222")
    clock.advance(45)
    fresh = make_challenge("3333")
    clock.advance(15)
    assert run_cleanup() == "Deleted 2 expired challenge(s).\n"
    assert list(Challenge.objects.values_list("key", flat=True)) == [fresh.key]
    assert run_cleanup() == "Deleted 0 expired challenge(s).\n"
