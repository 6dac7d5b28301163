"""The audio alternative: shipped clips, per-request assembly and the audio view."""

from __future__ import annotations

import io
import wave
from pathlib import Path

import numpy as np
import pytest
from pytest_django import Settings

from django.test import Client
from django.urls import reverse
from django.utils import translation

from gancaptcha_field import audio, challenges
from tests.utils import Clock, find_tag

RATE = audio.SAMPLE_RATE


def decode(data: bytes) -> np.ndarray:
    """A mono 16-bit 16 kHz WAV as float32 samples (asserts the format)."""
    with wave.open(io.BytesIO(data), "rb") as wav:
        assert wav.getnchannels() == 1
        assert wav.getsampwidth() == 2
        assert wav.getframerate() == RATE
        frames = wav.readframes(wav.getnframes())
    return np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32768.0


def url(key: str, lang: str | None = None) -> str:
    base = reverse("gancaptcha:audio", kwargs={"key": key})
    return f"{base}?lang={lang}" if lang else base


FILE_SAMPLES = round(audio.SECONDS_PER_DIGIT * 4 * RATE)


@pytest.mark.parametrize("language", audio.LANGUAGES)
def test_shipped_clips_are_small_16khz_mono(language: str) -> None:
    folder = Path(audio.__file__).parent / "voice" / language
    paths = sorted(folder.glob("v*/*.wav")) + sorted(folder.glob("babble/*.wav"))
    assert len(paths) == 4 * 10 + 12
    for path in paths:
        data = path.read_bytes()
        assert len(data) < 28_000
        seconds = decode(data).size / RATE
        assert 0.2 < seconds < 0.9
    assert len(audio.voices(language)) == 4
    assert all(len(bank) == 10 for bank in audio.voices(language))


@pytest.mark.parametrize("language", audio.LANGUAGES)
def test_each_voice_says_every_digit(language: str) -> None:
    folder = Path(audio.__file__).parent / "voice" / language
    voices = sorted(p.name for p in folder.glob("v*"))
    assert voices == ["v0", "v1", "v2", "v3"]
    for voice in voices:
        names = sorted(p.name for p in (folder / voice).glob("*.wav"))
        assert names == [f"{digit}.wav" for digit in range(10)]
    # Each voice is its own recording, not a copy of another's.
    digests = {(folder / v / "7.wav").read_bytes() for v in voices}
    assert len(digests) == len(voices)


def test_the_new_languages_do_not_share_clips_with_english() -> None:
    english = {p.read_bytes() for p in (audio.VOICE_DIR / "en").rglob("*.wav")}
    for language in audio.LANGUAGES:
        if language != "en":
            clips = (audio.VOICE_DIR / language).rglob("*.wav")
            assert not english & {p.read_bytes() for p in clips}, language


@pytest.mark.parametrize("language", audio.LANGUAGES)
@pytest.mark.parametrize(("answer", "seed"), [("0000", 1), ("7777", 2), ("19", 3)])
def test_every_language_has_one_length_per_answer_length(
    language: str, answer: str, seed: int
) -> None:
    data = audio.render_wav(answer, language, np.random.default_rng(seed))
    samples = round(audio.SECONDS_PER_DIGIT * len(answer) * RATE)
    assert decode(data).size == samples
    assert len(data) == 44 + 2 * samples


@pytest.mark.parametrize("language", audio.LANGUAGES)
def test_every_language_sounds_different_each_request(language: str) -> None:
    renders = {audio.render_wav("4071", language) for _ in range(2)}
    assert len(renders) == 2


@pytest.mark.parametrize("language", audio.LANGUAGES)
def test_every_language_keeps_the_babble_rule(language: str) -> None:
    assert len(audio.babble_words(language)) == 12
    rng = np.random.default_rng(5)
    for _ in range(3):
        drawn = audio.plan("4071", language, rng)
        assert 10 <= len(drawn.babble) <= 14
        # Each babble word 1-4 dB under a digit's level range, in every language.
        for voicing in drawn.babble:
            assert 0.8 * 10 ** (-4 / 20) <= voicing.level <= 10 ** (-1 / 20)
        speech, babble, _ = audio.tracks(drawn)
        assert np.abs(babble).max() > 0.1 * np.abs(speech).max()


@pytest.mark.parametrize("seed", range(6))
def test_every_file_has_one_length_whatever_the_digits(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for answer, language in [("0000", "en"), ("7777", "es"), ("1111", "en")]:
        data = audio.render_wav(answer, language, rng)
        assert decode(data).size == FILE_SAMPLES
        assert len(data) == 44 + 2 * FILE_SAMPLES


def test_the_same_answer_never_gives_the_same_bytes() -> None:
    renders = {audio.render_wav("1234", "en") for _ in range(3)}
    assert len(renders) == 3


def test_all_randomness_comes_from_the_generator() -> None:
    def render(seed: int) -> bytes:
        return audio.render_wav("1234", "es", np.random.default_rng(seed))

    assert render(7) == render(7)
    assert render(7) != render(8)


@pytest.mark.parametrize("seed", range(4))
def test_noise_is_everywhere(seed: int) -> None:
    signal = decode(audio.render_wav("8350", "en", np.random.default_rng(seed)))
    # No exact silence anywhere: a gap cannot be found by looking for zeros.
    windows = signal[: signal.size // 800 * 800].reshape(-1, 800)
    assert (np.abs(windows).max(axis=1) > 0).all()


@pytest.mark.parametrize(
    ("seed", "answer", "language"),
    [(1, "0719", "en"), (2, "5283", "es"), (3, "9999", "en")],
)
def test_the_digits_spoken_are_the_answers_in_order(
    seed: int, answer: str, language: str
) -> None:
    drawn = audio.plan(answer, language, np.random.default_rng(seed))
    assert "".join(str(v.item) for v in drawn.digits) == answer
    assert not any(v.reversed for v in drawn.digits)
    speech, babble, noise = audio.tracks(drawn)
    ends: list[int] = []
    for voicing in drawn.digits:
        clip = audio.voice_clip(language, voicing)
        # Each digit sits whole inside the file, after the previous one.
        assert voicing.start + clip.size <= drawn.samples
        assert not ends or voicing.start >= ends[-1]
        ends.append(voicing.start + clip.size)
        np.testing.assert_allclose(
            speech[voicing.start : voicing.start + clip.size], clip, atol=1e-6
        )
    assert drawn.digits[0].start > 0.2 * RATE
    # The babble is real speech spread over the whole file, digits included.
    assert 10 <= len(drawn.babble) <= 14
    covered = np.abs(babble) > 0
    assert covered[: drawn.samples // 2].any() and covered[drawn.samples // 2 :].any()
    assert (np.abs(noise) > 0).all()


def test_voices_are_drawn_per_digit() -> None:
    rng = np.random.default_rng(0)
    used = {v.voice for _ in range(10) for v in audio.plan("1234", "en", rng).digits}
    assert used == {0, 1, 2, 3}
    one = audio.plan("5555", "es", np.random.default_rng(4))
    assert len({v.voice for v in one.digits}) > 1


def _frequency(signal: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(signal * np.hanning(signal.size)))
    return float(np.fft.rfftfreq(signal.size, 1 / RATE)[np.argmax(spectrum)])


@pytest.mark.parametrize("duration", [0.8, 1.0, 1.3])
def test_the_vocoder_changes_tempo_not_pitch(duration: float) -> None:
    tone = np.sin(2 * np.pi * 440 * np.arange(8000) / RATE).astype(np.float32)
    out = audio._vocode(tone, duration, (1.3, 0.8, 1.0, 1.2), (1.0,) * 5)
    assert out.size == round(8000 * duration)
    assert abs(_frequency(out) - 440) < 8


@pytest.mark.parametrize(("tempo", "pitch"), [(1.0, 1.2), (1.2, 0.85), (0.8, 1.0)])
def test_pitch_moves_independently_of_tempo(
    monkeypatch: pytest.MonkeyPatch, tempo: float, pitch: float
) -> None:
    tone = np.sin(2 * np.pi * 300 * np.arange(8000) / RATE).astype(np.float32)
    monkeypatch.setattr(audio, "source_clip", lambda language, voicing: tone)
    voicing = audio.Voicing(
        voice=0,
        item=0,
        reversed=False,
        start=0,
        tempo=tempo,
        warp=(1.0,) * 4,
        pitch=pitch,
        tilt=(1.0,) * 5,
        level=0.5,
    )
    out = audio.voice_clip("en", voicing)
    assert abs(out.size - 8000 * tempo) <= 2
    assert abs(_frequency(out) - 300 * pitch) < 10
    assert np.sqrt(np.mean(out**2)) == pytest.approx(0.5, rel=1e-3)


@pytest.mark.parametrize("seed", range(5))
def test_babble_sits_near_the_digits_level(seed: int) -> None:
    from gancaptcha_lab.audio import babble_ratio_db

    drawn = audio.plan("4071", "en", np.random.default_rng(seed))
    # Near, not above on average: a listener follows the louder voice.
    assert -3.0 < babble_ratio_db(drawn) < 12.0


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
        ("fr", "es", "fr"),
        ("fr-ca", "en", "fr"),
        ("de-at", "en", "de"),
        ("pt-br", "en", "pt-br"),
        ("pt-BR", "en", "pt-br"),
        ("pt_BR", "en", "pt-br"),
        # Portuguese of Portugal hears the Brazilian voice, as Django would fall
        # back to pt-br's catalogue: the digit words are the same.
        ("pt", "en", "pt-br"),
        ("pt-pt", "en", "pt-br"),
        ("ru", "es", "en"),
        ("zh-hans", "es", "en"),
        ("xx", "de", "en"),
        (None, "es", "es"),
        ("", "es", "es"),
        (None, "de", "de"),
        (None, "fr", "fr"),
        (None, "it", "it"),
        (None, "pt-br", "pt-br"),
        (None, "nl", "nl"),
        (None, "pl", "pl"),
        (None, "ru", "en"),
        (None, "ja", "en"),
        (None, "zh-hans", "en"),
        (None, "ar", "en"),
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
        audio.render_wav("1234", "ru")


# The voice each of the twelve page languages gets: its own, or English.
VOICE_OF_PAGE = [
    *((code, code) for code in ("en", "es", "de", "fr", "it", "pt-br", "nl", "pl")),
    *((code, "en") for code in ("ru", "ja", "zh-hans", "ar")),
]


@pytest.mark.usefixtures("captcha_models")
@pytest.mark.django_db
class TestAudioView:
    @pytest.fixture
    def asked(self, monkeypatch: pytest.MonkeyPatch) -> list[str]:
        """The languages the view asks audio.render_wav for (it still renders)."""
        asked: list[str] = []
        real = audio.render_wav

        def spy(answer: str, language: str) -> bytes:
            asked.append(language)
            return real(answer, language)

        monkeypatch.setattr(audio, "render_wav", spy)
        return asked

    def test_serves_a_fresh_wav_uncached(self, client: Client) -> None:
        challenge = challenges._create_with_answer("2468")
        first = client.get(url(challenge.key, "en"))
        assert first.status_code == 200
        assert first["Content-Type"] == "audio/wav"
        assert first["Cache-Control"] == "no-store"
        assert first.content[:4] == b"RIFF" and first.content[8:12] == b"WAVE"
        assert decode(first.content).size == FILE_SAMPLES
        # Listening again is allowed (the challenge is not used up) and sounds
        # different each time.
        second = client.get(url(challenge.key, "en"))
        assert second.status_code == 200
        assert second.content != first.content
        assert challenges.get_answer_for_audio(challenge.key) == "2468"

    def test_language_from_the_url_or_the_request(
        self, client: Client, asked: list[str]
    ) -> None:
        challenge = challenges._create_with_answer("2468")
        assert audio.audio_url(challenge.key, "es").endswith("?lang=es")
        with translation.override("es"):
            assert audio.audio_url(challenge.key).endswith("?lang=es")
        for path, headers in [
            (url(challenge.key, "es"), {}),
            (url(challenge.key), {"Accept-Language": "es"}),
            (url(challenge.key, "xx"), {"Accept-Language": "es"}),
            (url(challenge.key, "en"), {"Accept-Language": "es"}),
        ]:
            response = client.get(path, headers=headers)
            assert response.status_code == 200
            assert decode(response.content).size == FILE_SAMPLES
        # An unknown code falls back to English, not to the request.
        assert asked == ["es", "es", "en", "en"]

    @pytest.mark.parametrize(("accept", "expected"), VOICE_OF_PAGE)
    def test_the_page_language_picks_the_voice(
        self,
        client: Client,
        asked: list[str],
        accept: str,
        expected: str,
    ) -> None:
        challenge = challenges._create_with_answer("2468")
        with translation.override(accept):
            src = audio.audio_url(challenge.key)
        assert src.endswith(f"?lang={expected}")
        for path in (src, url(challenge.key)):
            response = client.get(path, headers={"Accept-Language": accept})
            assert response.status_code == 200
            assert decode(response.content).size == FILE_SAMPLES
        assert asked == [expected, expected]

    @pytest.mark.parametrize(("page_language", "voice"), VOICE_OF_PAGE)
    def test_the_widget_links_audio_in_the_page_language(
        self,
        client: Client,
        asked: list[str],
        page_language: str,
        voice: str,
    ) -> None:
        html = client.get(
            "/signup/", headers={"Accept-Language": page_language}
        ).content.decode()
        player = find_tag(html, "audio")
        link = find_tag(html, "a", **{"class": "gancaptcha-audio-link"})
        assert player["src"] == link["href"]
        assert player["src"] is not None and player["src"].endswith(f"?lang={voice}")
        # The label is the page's own (English only on the English page).
        with translation.override(page_language):
            assert player["aria-label"] == translation.gettext("The digits, spoken")
        # The link plays for a visitor whose browser sends another language.
        response = client.get(player["src"], headers={"Accept-Language": "ar"})
        assert response.status_code == 200
        assert decode(response.content).size == FILE_SAMPLES
        assert asked == [voice]

    def test_head_is_allowed_and_post_is_not(self, client: Client) -> None:
        challenge = challenges._create_with_answer("2468")
        assert client.head(url(challenge.key)).status_code == 200
        assert client.post(url(challenge.key)).status_code == 405

    def test_dies_with_its_challenge(self, client: Client) -> None:
        challenge = challenges._create_with_answer("2468")
        challenges.attempt(challenge.key, "2468")
        response = client.get(url(challenge.key))
        assert response.status_code == 410
        assert response["Cache-Control"] == "no-store"
        assert challenges.get_answer_for_audio(challenge.key) is None

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
