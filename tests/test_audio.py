"""The audio alternative: shipped clips, per-request assembly and the audio view."""

from __future__ import annotations

import io
import itertools
import wave
from pathlib import Path

import numpy as np
import pytest
from pytest_django import Settings

from django.test import Client
from django.urls import reverse
from django.utils import translation

from gancaptcha_field import audio, challenges
from tests.utils import Clock

RATE = audio.SAMPLE_RATE


def decode(data: bytes) -> np.ndarray:
    """A mono 16-bit 16 kHz WAV as float32 samples (asserts the format)."""
    with wave.open(io.BytesIO(data), "rb") as wav:
        assert wav.getnchannels() == 1
        assert wav.getsampwidth() == 2
        assert wav.getframerate() == RATE
        frames = wav.readframes(wav.getnframes())
    return np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32768.0


def loud_spans(signal: np.ndarray) -> list[tuple[int, int]]:
    """Spans whose 20 ms loudness tops 30% of the peak, joined across short dips."""
    window = RATE // 50
    envelope = np.sqrt(np.convolve(signal**2, np.ones(window) / window, mode="same"))
    loud = np.flatnonzero(envelope > 0.3 * envelope.max())
    spans, start, previous = [], loud[0], loud[0]
    for index in loud[1:]:
        if index - previous > 0.2 * RATE:  # gaps are at least 0.3 s
            spans.append((int(start), int(previous)))
            start = index
        previous = index
    spans.append((int(start), int(previous)))
    return spans


def url(key: str, lang: str | None = None) -> str:
    base = reverse("gancaptcha:audio", kwargs={"key": key})
    return f"{base}?lang={lang}" if lang else base


@pytest.mark.parametrize("language", audio.LANGUAGES)
def test_shipped_clips_are_small_16khz_mono(language: str) -> None:
    folder = Path(audio.__file__).parent / "voice" / language
    for digit in range(10):
        data = (folder / f"{digit}.wav").read_bytes()
        assert len(data) < 24_000
        seconds = decode(data).size / RATE
        assert 0.2 < seconds < 1.0


def test_render_is_a_wav_of_four_spoken_digits() -> None:
    signal = decode(audio.render_wav("4071", "en"))
    assert 2.0 < signal.size / RATE < 6.0
    assert len(loud_spans(signal)) == 4


def test_the_same_answer_never_gives_the_same_bytes() -> None:
    renders = {audio.render_wav("1234", "en") for _ in range(5)}
    assert len(renders) == 5


def test_all_randomness_comes_from_the_generator() -> None:
    def render(seed: int) -> bytes:
        return audio.render_wav("1234", "es", np.random.default_rng(seed))

    assert render(7) == render(7)
    assert render(7) != render(8)


def test_noise_is_everywhere_but_speech_stands_out() -> None:
    signal = decode(audio.render_wav("8350", "en", np.random.default_rng(3)))
    spans = loud_spans(signal)
    # No exact silence anywhere: a gap cannot be found by looking for zeros.
    windows = signal[: signal.size // 800 * 800].reshape(-1, 800)
    assert (np.abs(windows).max(axis=1) > 0).all()
    speech = np.concatenate([signal[a:b] for a, b in spans])
    quiet = np.concatenate(
        [signal[b + 800 : a - 800] for (_, b), (a, _) in itertools.pairwise(spans)]
    )
    snr_db = 20 * np.log10(np.sqrt(np.mean(speech**2)) / np.sqrt(np.mean(quiet**2)))
    assert snr_db > 12


@pytest.mark.parametrize(("answer", "language"), [("0719", "en"), ("5283", "es")])
def test_the_clips_spoken_are_the_answers_digits_in_order(
    monkeypatch: pytest.MonkeyPatch, answer: str, language: str
) -> None:
    # With jitter and noise turned off, each stretch of sound between silences
    # must be exactly one shipped clip: the answer's digits, in order.
    for name in ("_SPEED", "_GAIN"):
        monkeypatch.setattr(audio, name, (1.0, 1.0))
    for name in ("_HISS", "_RUMBLE", "_BABBLE_GAIN"):
        monkeypatch.setattr(audio, name, (0.0, 0.0))
    signal = decode(audio.render_wav(answer, language))
    nonzero = np.flatnonzero(signal)
    breaks = np.flatnonzero(np.diff(nonzero) > 0.25 * RATE)
    starts = [nonzero[0], *nonzero[breaks + 1]]
    ends = [*nonzero[breaks], nonzero[-1]]
    spoken = [signal[a : b + 1] for a, b in zip(starts, ends, strict=True)]
    assert len(spoken) == 4

    def shape(x: np.ndarray) -> np.ndarray:
        x = np.trim_zeros(x)
        return x / np.linalg.norm(x)

    clips = audio._clips(language)
    for part, digit in zip(spoken, answer, strict=True):
        matches = [
            int(d)
            for d in range(10)
            if clips[d].size
            and np.trim_zeros(clips[d]).size == part.size
            and float(shape(part) @ shape(clips[d])) > 0.999
        ]
        assert matches == [int(digit)]


def test_languages_use_their_own_voice() -> None:
    rng_en, rng_es = np.random.default_rng(1), np.random.default_rng(1)
    assert audio.render_wav("1234", "en", rng_en) != audio.render_wav(
        "1234", "es", rng_es
    )


@pytest.mark.parametrize(
    ("code", "active", "expected"),
    [
        ("es", "en", "es"),
        ("es-mx", "en", "es"),
        ("EN-GB", "es", "en"),
        ("fr", "es", "en"),
        (None, "es", "es"),
        ("", "es", "es"),
        (None, "de", "en"),
    ],
)
def test_language_for(code: str | None, active: str, expected: str) -> None:
    with translation.override(active):
        assert audio.language_for(code) == expected


@pytest.mark.parametrize("answer", ["", "12a4", "١٢٣٤", "12 4"])
def test_render_refuses_what_is_not_an_answer(answer: str) -> None:
    with pytest.raises(ValueError, match="digits"):
        audio.render_wav(answer, "en")


def test_render_refuses_an_unknown_language() -> None:
    with pytest.raises(ValueError, match="language"):
        audio.render_wav("1234", "fr")


@pytest.mark.usefixtures("captcha_models")
@pytest.mark.django_db
class TestAudioView:
    def test_serves_a_fresh_wav_uncached(self, client: Client) -> None:
        challenge = challenges._create_with_answer("2468")
        first = client.get(url(challenge.key, "en"))
        assert first.status_code == 200
        assert first["Content-Type"] == "audio/wav"
        assert first["Cache-Control"] == "no-store"
        assert first.content[:4] == b"RIFF" and first.content[8:12] == b"WAVE"
        assert len(loud_spans(decode(first.content))) == 4
        # Listening again is allowed (the challenge is not used up) and sounds
        # different each time.
        second = client.get(url(challenge.key, "en"))
        assert second.status_code == 200
        assert second.content != first.content
        assert audio.get_answer(challenge.key) == "2468"

    def test_language_from_the_url_or_the_request(self, client: Client) -> None:
        challenge = challenges._create_with_answer("2468")
        assert audio.audio_url(challenge.key, "es").endswith("?lang=es")
        with translation.override("es"):
            assert audio.audio_url(challenge.key).endswith("?lang=es")
        for path, headers in [
            (url(challenge.key, "es"), {}),
            (url(challenge.key), {"Accept-Language": "es"}),
            (url(challenge.key, "xx"), {"Accept-Language": "es"}),
        ]:
            response = client.get(path, headers=headers)
            assert response.status_code == 200
            assert len(loud_spans(decode(response.content))) == 4

    def test_head_is_allowed_and_post_is_not(self, client: Client) -> None:
        challenge = challenges._create_with_answer("2468")
        assert client.head(url(challenge.key)).status_code == 200
        assert client.post(url(challenge.key)).status_code == 405

    def test_dies_with_its_challenge(self, client: Client) -> None:
        challenge = challenges._create_with_answer("2468")
        challenges.verify(challenge.key, "2468")
        response = client.get(url(challenge.key))
        assert response.status_code == 410
        assert response["Cache-Control"] == "no-store"
        assert audio.get_answer(challenge.key) is None

    def test_dies_when_the_challenge_expires(
        self, client: Client, clock: Clock, settings: Settings
    ) -> None:
        settings.GANCAPTCHA_TIMEOUT = 60
        challenge = challenges._create_with_answer("2468")
        clock.advance(59)
        assert client.get(url(challenge.key)).status_code == 200
        clock.advance(1)
        assert client.get(url(challenge.key)).status_code == 410

    @pytest.mark.parametrize(
        "key",
        ["neverissuedbutwellformedkey0000000", "a" * 5000, "a b", "'%3B--"],
    )
    def test_garbage_keys_are_gone(self, client: Client, key: str) -> None:
        response = client.get(f"/gancaptcha/{key}/audio.wav")
        assert response.status_code in (404, 410)
