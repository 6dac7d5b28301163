"""The audio alternative: a challenge's digits spoken, assembled in memory.

The per-digit clips (gancaptcha_field/voice/<language>/<digit>.wav) were made
once by scripts/make_voice_clips.py; serving needs no speech synthesiser. Each
request gets its own random gaps, pitch and tempo, and background noise, so the
same answer never gives the same bytes.
"""

from __future__ import annotations

import functools
import io
import secrets
import wave
from pathlib import Path

import numpy as np

from django.utils import translation

from gancaptcha_field import challenges, links

VOICE_DIR = Path(__file__).resolve().parent / "voice"
LANGUAGES = ("en", "es")
DEFAULT_LANGUAGE = "en"
SAMPLE_RATE = 16_000
CONTENT_TYPE = "audio/wav"

# Ranges for the per-request randomness (seconds, factors, full-scale levels).
_LEAD_IN = (0.3, 0.7)
_GAP = (0.3, 0.8)
_TAIL = (0.3, 0.6)
_SPEED = (0.9, 1.12)  # resampling factor: pitch and tempo move together
_GAIN = (0.7, 1.0)
_HISS = (0.01, 0.025)
_RUMBLE = (0.03, 0.06)
_BABBLE_GAIN = (0.08, 0.14)  # reversed digits, heard as murmur, not as words
_PEAK = 0.9


def language_for(code: str | None = None) -> str:
    """The voice for a language code (default: the active language), else English."""
    base = (code or translation.get_language() or "").lower().split("-")[0]
    return base if base in LANGUAGES else DEFAULT_LANGUAGE


def audio_url(key: str, language: str | None = None) -> str:
    """The audio view's URL for key, naming the voice's language explicitly."""
    return f"{links.audio_path(key)}?lang={language_for(language)}"


def get_answer(key: str) -> str | None:
    """The answer of a live challenge (not consumed); None if not live."""
    return challenges.get_answer_for_audio(key)


@functools.cache
def _clips(language: str) -> tuple[np.ndarray, ...]:
    """The ten digit clips of a voice, float32 in [-1, 1] at SAMPLE_RATE."""
    clips = []
    for digit in range(10):
        path = VOICE_DIR / language / f"{digit}.wav"
        with wave.open(str(path), "rb") as wav:
            if (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) != (
                1,
                2,
                SAMPLE_RATE,
            ):
                raise ValueError(f"{path}: expected {SAMPLE_RATE} Hz mono 16-bit PCM")
            frames = wav.readframes(wav.getnframes())
        clips.append(np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32768.0)
    return tuple(clips)


def _stretch(clip: np.ndarray, factor: float) -> np.ndarray:
    """Play clip factor times faster (and higher), by linear resampling."""
    count = max(1, int(clip.size / factor))
    stretched = np.interp(np.arange(count) * factor, np.arange(clip.size), clip)
    return np.asarray(stretched, np.float32)


def _silence(rng: np.random.Generator, span: tuple[float, float]) -> np.ndarray:
    return np.zeros(int(rng.uniform(*span) * SAMPLE_RATE), np.float32)


def render_wav(
    answer: str, language: str, rng: np.random.Generator | None = None
) -> bytes:
    """A WAV file (16 kHz mono 16-bit) speaking answer's digits in language."""
    if not answer or not (answer.isascii() and answer.isdigit()):
        raise ValueError("answer must be ASCII digits")
    if language not in LANGUAGES:
        raise ValueError(f"no voice for language {language!r}")
    if rng is None:
        # From the OS for every request: nothing about the sound is predictable.
        rng = np.random.default_rng(secrets.randbits(128))
    clips = _clips(language)
    parts = [_silence(rng, _LEAD_IN)]
    for index, char in enumerate(answer):
        if index:
            parts.append(_silence(rng, _GAP))
        spoken = _stretch(clips[int(char)], rng.uniform(*_SPEED))
        parts.append(spoken * np.float32(rng.uniform(*_GAIN)))
    parts.append(_silence(rng, _TAIL))
    speech = np.concatenate(parts)

    noise = rng.normal(0.0, rng.uniform(*_HISS), speech.size).astype(np.float32)
    # Brown noise (integrated white noise), centred and scaled: a low rumble.
    rumble = np.cumsum(rng.normal(0.0, 1.0, speech.size))
    rumble -= np.linspace(rumble[0], rumble[-1], speech.size)
    rumble *= rng.uniform(*_RUMBLE) / max(float(np.abs(rumble).max()), 1e-9)
    noise += rumble.astype(np.float32)
    for _ in range(int(rng.integers(2, 5))):
        murmur = clips[int(rng.integers(10))][::-1] * np.float32(
            rng.uniform(*_BABBLE_GAIN)
        )
        if murmur.size < speech.size:
            start = int(rng.integers(0, speech.size - murmur.size))
            noise[start : start + murmur.size] += murmur

    mixed = speech + noise
    mixed *= np.float32(_PEAK / max(float(np.abs(mixed).max()), 1e-9))
    pcm = np.clip(np.round(mixed * 32767), -32768, 32767).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(SAMPLE_RATE)
        wav.writeframes(pcm.tobytes())
    return buffer.getvalue()
