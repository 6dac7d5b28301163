"""``captcha_attack --audio``'s language and clean-file options."""

from __future__ import annotations

import io

import pytest

from django.core.management import call_command

from gancaptcha_lab import audio as lab


@pytest.mark.usefixtures("captcha_models")
@pytest.mark.django_db
def test_one_language_and_the_clean_routes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lab, "_SIZE_CALIBRATION", 10)
    out = io.StringIO()
    call_command(
        "captcha_attack",
        "--audio",
        "--audio-attackers",
        "size",
        "--audio-languages",
        "es",
        "--audio-clean",
        "--count",
        "1",
        stdout=out,
    )
    rows = [line.split()[:3] for line in out.getvalue().splitlines()]
    assert ["size", "es", "served"] in rows
    assert ["size", "es", "clean"] in rows  # "clean digits", "clean clips"
    assert sum(row == ["size", "es", "clean"] for row in rows) == 2
    assert not any(row[:2] == ["size", "en"] for row in rows)
