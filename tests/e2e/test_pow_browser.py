"""Chromium solves the shipped proof-of-work script's puzzles, as the server checks."""

from __future__ import annotations

import pytest
from pytest_django import Settings as SettingsWrapper

from gancaptcha_field.lab import pow as lab_pow

from .conftest import CHROMIUM


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium")
def test_chromium_solutions_pass_the_server_check(settings: SettingsWrapper) -> None:
    settings.GANCAPTCHA_POW_ITERATIONS = 50
    # chromium_cost() raises unless every solution passes pow.check().
    cost = lab_pow.chromium_cost(tries=8, attempts=3, executable=str(CHROMIUM))
    assert cost.attempts == 3
