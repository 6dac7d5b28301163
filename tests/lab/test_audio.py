"""The audio attackers (lab/audio.py) and ``captcha_attack --audio``."""

from __future__ import annotations

import io

import numpy as np
import pytest

from django.core.management import call_command

from gancaptcha_field import audio
from gancaptcha_lab import audio as lab


def spoken(language: str, voice: int, answer: str) -> bytes:
    """The shipped clips of one voice, back to back with plain gaps: no hardening."""
    clips = audio.voices(language)[voice]
    gap = np.zeros(audio.SAMPLE_RATE // 3, np.float32)
    parts = [gap]
    for char in answer:
        parts += [clips[int(char)], gap]
    return audio.encode(np.concatenate(parts))


@pytest.fixture(scope="module")
def solvers() -> dict[tuple[str, str], lab.Solver]:
    return {
        (name, language): lab.make_solver(name, language)
        for name in ("ncc", "dtw")
        for language in audio.LANGUAGES
    }


@pytest.mark.parametrize("name", ["ncc", "dtw"])
@pytest.mark.parametrize(
    ("language", "voice", "answer"), [("en", 0, "4071"), ("es", 2, "8352")]
)
def test_the_matchers_read_unhardened_clips(
    solvers: dict[tuple[str, str], lab.Solver],
    name: str,
    language: str,
    voice: int,
    answer: str,
) -> None:
    # Proof that the attackers work: the shipped clips, any voice, are read.
    assert solvers[name, language](spoken(language, voice, answer), language) == answer


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("language", audio.LANGUAGES)
def test_dtw_reads_the_plain_renderer(
    solvers: dict[tuple[str, str], lab.Solver], language: str, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    answer = "".join(str(d) for d in rng.integers(0, 10, 4))
    data = lab.render_plain(answer, language, rng)
    assert solvers["dtw", language](data, language) == answer


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("language", audio.LANGUAGES)
def test_the_matchers_fail_on_served_audio(
    solvers: dict[tuple[str, str], lab.Solver], language: str, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    answer = "".join(str(d) for d in rng.integers(0, 10, 4))
    data = audio.render_wav(answer, language, rng)
    for name in ("ncc", "dtw"):
        assert solvers[name, language](data, language) != answer
    # Yet the digits are there: told the drawn parameters, they are read.
    drawn = audio.plan(answer, language, np.random.default_rng(seed + 100))
    assert lab.oracle_read(drawn) == "".join(str(v.item) for v in drawn.digits)


def test_size_leaks_digits_in_the_plain_renderer_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(lab, "_SIZE_CALIBRATION", 40)
    plain = lab.SizeSolver("en", lab.render_plain)
    served = lab.SizeSolver("en", audio.render_wav)
    # Plain: each digit has its own length (bytes per occurrence differ).
    assert np.ptp(plain.coef[:10]) > 1000
    # Served: every file the same size, so every answer predicts the same.
    assert np.ptp(served.predicted) < 1.0
    assert served(audio.render_wav("1234", "en"), "en") == served(
        audio.render_wav("9876", "en"), "en"
    )


def test_babble_ratio_is_measured_where_digits_are_spoken() -> None:
    drawn = audio.plan("4071", "en", np.random.default_rng(0))
    quiet = audio.Plan(drawn.language, drawn.samples, drawn.digits, (), 0)
    assert lab.babble_ratio_db(quiet) > 100  # no babble at all
    assert -3 < lab.babble_ratio_db(drawn) < 12


@pytest.mark.parametrize("data", [b"", b"RIFF1234WAVEfmt ", b"not a wav at all"])
def test_garbage_is_not_a_wav(data: bytes) -> None:
    with pytest.raises(lab.AudioAttackError, match="WAV"):
        lab.decode_wav(data)


def test_unknown_attacker_or_language_is_refused() -> None:
    with pytest.raises(lab.AudioAttackError, match="unknown attacker"):
        lab.run(lab.AudioAttackConfig(count=1, attackers=("ml",)), lambda _: None)
    with pytest.raises(lab.AudioAttackError, match="language"):
        lab.run(
            lab.AudioAttackConfig(count=1, languages=("ru",), attackers=("size",)),
            lambda _: None,
        )


@pytest.mark.usefixtures("captcha_models")
@pytest.mark.django_db
def test_captcha_attack_audio_end_to_end(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lab, "_SIZE_CALIBRATION", 10)
    out = io.StringIO()
    call_command("captcha_attack", "--audio", "--count", "2", stdout=out)
    text = out.getvalue()
    for name in lab.ATTACKERS:
        for language in audio.LANGUAGES:
            row = next(
                line
                for line in text.splitlines()
                if line.split()[:3] == [name, language, "served"]
            )
            # Two challenges, each posted once to the form; one file size.
            assert row.split()[3] == "2"
            assert row.split()[-1] == "1"
    assert "oracle-aligned (en" in text and "oracle-aligned (es" in text
    assert "signal-to-babble" in text
