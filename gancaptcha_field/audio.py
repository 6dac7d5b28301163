"""Internal. The audio alternative: a challenge's digits spoken, assembled in memory.

The clips (gancaptcha_field/voice/<language>/v<N>/<digit>.wav, several voices,
and <language>/babble/*.wav, words that are not digits) were made once by
scripts/make_voice_clips.py; serving needs no speech synthesiser, only numpy.

Every request draws, from its own generator: a voice per digit; per digit a
time warp (tempo that changes within the word) and a pitch-and-formant shift
independent of tempo (phase vocoder, then resampling); a random spectral tilt;
where the digits sit; a babble of real speech (other words, and digits
reversed, in every voice) at a level near the digits', and hiss and rumble.
Every file for an answer of a given length has the same duration and size.
The template matchers in lab/audio.py (``manage.py captcha_attack --audio``)
measure what this buys against an attacker who holds these clips and this code.
"""

from __future__ import annotations

import functools
import io
import secrets
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from django.utils import translation

from gancaptcha_field import links

VOICE_DIR = Path(__file__).resolve().parent / "voice"
# The languages eSpeak NG says the digit words most clearly in (voice/SOURCE.txt
# and docs/audio_lab.md say why these); codes as Django spells them.
LANGUAGES = ("en", "es", "de", "fr", "it", "pt-br", "nl", "pl")
DEFAULT_LANGUAGE = "en"
SAMPLE_RATE = 16_000
CONTENT_TYPE = "audio/wav"
# Every file lasts this long per digit, whatever the digits: size says nothing.
SECONDS_PER_DIGIT = 1.75

# Ranges for the per-request randomness (seconds, factors, dB).
_LEAD_IN = (0.25, 0.6)
_GAP = (0.3, 0.6)  # between digits; the slack left over goes before and after
_TEMPO = (0.8, 1.2)  # duration factor of a digit, applied through a warp
_WARP = 0.35  # how unevenly the tempo is spread over a word (0: evenly)
_PITCH = (0.82, 1.2)  # pitch and formant factor, independent of tempo
_TILT_DB = 6.0  # +- gain of a smooth random equaliser over frequency
_GAIN = (0.8, 1.0)
_BABBLE_ITEMS = (10, 14)  # words and reversed digits laid under the file
_BABBLE_DB = (-4.0, -1.0)  # each babble word's level against a digit's
_BABBLE_REVERSED = 0.5  # share of babble that is a digit played backwards
_HISS = (0.01, 0.02)
_RUMBLE = (0.02, 0.05)
_PEAK = 0.9

_FFT = 512  # 32 ms frames for the phase vocoder
_HOP = 128


def language_for(code: str | None = None) -> str:
    """The voice for a language code (default: the active language), else English.

    As Django falls back: the exact code ("pt-br"), then its base language
    ("de" for "de-at"), then a voice of that base ("pt-br" for "pt" or "pt-pt").
    """
    wanted = (code or translation.get_language() or "").lower().replace("_", "-")
    if wanted in LANGUAGES:
        return wanted
    base = wanted.split("-")[0]
    if base in LANGUAGES:
        return base
    for language in LANGUAGES:
        if language.split("-")[0] == base:
            return language
    return DEFAULT_LANGUAGE


def audio_url(key: str, language: str | None = None) -> str:
    """The audio view's URL for key, naming the voice's language explicitly."""
    return f"{links.audio_path(key)}?lang={language_for(language)}"


def _read(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as wav:
        if (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) != (
            1,
            2,
            SAMPLE_RATE,
        ):
            raise ValueError(f"{path}: expected {SAMPLE_RATE} Hz mono 16-bit PCM")
        frames = wav.readframes(wav.getnframes())
    return np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32768.0


@functools.cache
def voices(language: str) -> tuple[tuple[np.ndarray, ...], ...]:
    """Per voice, the ten digit clips: float32 in [-1, 1] at SAMPLE_RATE."""
    folders = sorted((VOICE_DIR / language).glob("v*"))
    if not folders:
        raise ValueError(f"no voices in {VOICE_DIR / language}")
    return tuple(
        tuple(_read(folder / f"{digit}.wav") for digit in range(10))
        for folder in folders
    )


@functools.cache
def babble_words(language: str) -> tuple[np.ndarray, ...]:
    """The shipped words that are not digits, float32 in [-1, 1]."""
    return tuple(
        _read(p) for p in sorted((VOICE_DIR / language / "babble").glob("*.wav"))
    )


@dataclass(frozen=True)
class Voicing:
    """How one clip is spoken: the transform and where it goes in the file."""

    voice: int  # index into voices(language); -1 for a babble word
    item: int  # the digit, or the babble word's index
    reversed: bool
    start: int  # sample offset in the file
    tempo: float  # duration factor
    warp: tuple[float, ...]  # relative speed of each part of the word
    pitch: float
    tilt: tuple[float, ...]  # equaliser gains (linear) at evenly spaced bands
    level: float  # RMS of the rendered clip


@dataclass(frozen=True)
class Plan:
    """Everything drawn for one file; rendering it is deterministic."""

    language: str
    samples: int
    digits: tuple[Voicing, ...]
    babble: tuple[Voicing, ...]
    noise_seed: int


def _warp(rng: np.random.Generator) -> tuple[float, ...]:
    return tuple(float(x) for x in np.exp(rng.uniform(-_WARP, _WARP, 4)))


def _tilt(rng: np.random.Generator) -> tuple[float, ...]:
    return tuple(float(x) for x in 10 ** (rng.uniform(-_TILT_DB, _TILT_DB, 5) / 20))


def source_clip(language: str, voicing: Voicing) -> np.ndarray:
    """The shipped clip a voicing starts from (reversed if it says so)."""
    if voicing.voice < 0:
        clip = babble_words(language)[voicing.item]
    else:
        clip = voices(language)[voicing.voice][voicing.item]
    return clip[::-1] if voicing.reversed else clip


def plan(answer: str, language: str, rng: np.random.Generator) -> Plan:
    """Draw every random choice for one file of answer's digits."""
    samples = round(SECONDS_PER_DIGIT * len(answer) * SAMPLE_RATE)
    bank = voices(language)
    drafts = []
    for char in answer:
        voice = int(rng.integers(len(bank)))
        tempo = float(rng.uniform(*_TEMPO))
        length = round(bank[voice][int(char)].size * tempo)
        drafts.append((voice, int(char), tempo, length))
    gaps = rng.uniform(*_GAP, len(answer) - 1) * SAMPLE_RATE
    lead = rng.uniform(*_LEAD_IN) * SAMPLE_RATE
    spare = samples - sum(d[3] for d in drafts) - gaps.sum() - lead - 0.25 * SAMPLE_RATE
    if spare < 0:  # long words with long gaps: squeeze the gaps, not the file
        gaps *= max(0.0, gaps.sum() + spare) / max(gaps.sum(), 1.0)
        spare = 0.0
    lead += rng.uniform(0, spare)  # the slack goes before or after, at random
    digits, at = [], lead
    for index, (voice, digit, tempo, length) in enumerate(drafts):
        digits.append(
            Voicing(
                voice=voice,
                item=digit,
                reversed=False,
                start=int(at),
                tempo=tempo,
                warp=_warp(rng),
                pitch=float(rng.uniform(*_PITCH)),
                tilt=_tilt(rng),
                level=float(rng.uniform(*_GAIN)),
            )
        )
        at += length + (gaps[index] if index < len(gaps) else 0)
    words = babble_words(language)
    babble = []
    for _ in range(int(rng.integers(_BABBLE_ITEMS[0], _BABBLE_ITEMS[1] + 1))):
        if rng.random() < _BABBLE_REVERSED:
            voice, item, backwards = (
                int(rng.integers(len(bank))),
                int(rng.integers(10)),
                True,
            )
        else:
            voice, item, backwards = -1, int(rng.integers(len(words))), False
        babble.append(
            Voicing(
                voice=voice,
                item=item,
                reversed=backwards,
                start=int(rng.integers(0, samples)),
                tempo=float(rng.uniform(*_TEMPO)),
                warp=_warp(rng),
                pitch=float(rng.uniform(*_PITCH)),
                tilt=_tilt(rng),
                level=float(
                    rng.uniform(*_GAIN) * 10 ** (rng.uniform(*_BABBLE_DB) / 20)
                ),
            )
        )
    return Plan(
        language, samples, tuple(digits), tuple(babble), int(rng.integers(2**63))
    )


_WINDOW = np.hanning(_FFT + 1)[:-1].astype(np.float32)


def _vocode(
    clip: np.ndarray,
    duration: float,
    warp: tuple[float, ...],
    tilt: tuple[float, ...],
) -> np.ndarray:
    """clip lasting duration times as long, its tempo shaped by warp; same pitch.

    A phase vocoder whose analysis frames advance unevenly: output frame k reads
    the input at a point that moves faster in the parts where warp is larger.
    The magnitudes also go through a smooth equaliser (tilt) on the way.
    """
    padded = np.concatenate(
        [np.zeros(_FFT // 2, np.float32), clip, np.zeros(_FFT, np.float32)]
    )
    count = 1 + (padded.size - _FFT) // _HOP
    frames = np.lib.stride_tricks.sliding_window_view(padded, _FFT)[::_HOP][:count]
    spectrum = np.fft.rfft(frames * _WINDOW, axis=1)  # (frames, bins)
    bins = spectrum.shape[1]
    amplitude = np.abs(spectrum).astype(np.float32)
    angle = np.angle(spectrum).astype(np.float32)
    out_frames = max(2, round(count * duration))
    # Monotonic map from output frame to (fractional) input frame.
    speed = np.interp(
        np.linspace(0, len(warp) - 1, out_frames), np.arange(len(warp)), warp
    )
    position = np.concatenate([[0.0], np.cumsum(speed[:-1])])
    position *= (count - 1.001) / max(position[-1], 1e-9)
    base = np.floor(position).astype(int)
    after = np.minimum(base + 1, count - 1)
    frac = (position - base).astype(np.float32)[:, None]
    gains = np.interp(np.linspace(0, len(tilt) - 1, bins), np.arange(len(tilt)), tilt)
    magnitude = ((1 - frac) * amplitude[base] + frac * amplitude[after]) * gains.astype(
        np.float32
    )
    expected = (2 * np.pi * _HOP / _FFT) * np.arange(bins, dtype=np.float32)
    delta = angle[after] - angle[base] - expected
    delta -= np.float32(2 * np.pi) * np.round(delta / np.float32(2 * np.pi))
    phase = np.empty_like(delta)
    phase[0] = angle[0]
    np.cumsum((expected + delta)[:-1], axis=0, out=phase[1:])
    phase[1:] += angle[0]
    blocks = np.fft.irfft(magnitude * np.exp(1j * phase), n=_FFT, axis=1)
    blocks = (blocks * _WINDOW).astype(np.float32)
    # Overlap-add: each frame spans _FFT // _HOP hops.
    parts = _FFT // _HOP
    signal = np.zeros((out_frames + parts - 1) * _HOP, np.float32)
    norm = np.zeros_like(signal)
    squared = (_WINDOW**2).reshape(parts, _HOP)
    for part in range(parts):
        chunk = blocks[:, part * _HOP : (part + 1) * _HOP].reshape(-1)
        signal[part * _HOP : part * _HOP + chunk.size] += chunk
        norm[part * _HOP : part * _HOP + chunk.size] += np.tile(
            squared[part], out_frames
        )
    signal /= np.maximum(norm, 1e-3)
    return signal[_FFT // 2 : _FFT // 2 + round(clip.size * duration)]


def _resample(clip: np.ndarray, factor: float) -> np.ndarray:
    """Play clip factor times faster: pitch and formants up by factor."""
    count = max(1, int(clip.size / factor))
    stretched = np.interp(np.arange(count) * factor, np.arange(clip.size), clip)
    return np.asarray(stretched, np.float32)


def voice_clip(language: str, voicing: Voicing) -> np.ndarray:
    """One clip as the voicing says: warped, shifted, equalised, at its level."""
    clip = source_clip(language, voicing)
    # Stretch by tempo*pitch, then resample by pitch: the pitch and formants
    # move by pitch and the duration by tempo alone.
    stretched = _vocode(clip, voicing.tempo * voicing.pitch, voicing.warp, voicing.tilt)
    shaped = _resample(stretched, voicing.pitch)
    rms = float(np.sqrt(np.mean(shaped**2)))
    return shaped * np.float32(voicing.level / max(rms, 1e-9))


def _lay(track: np.ndarray, clip: np.ndarray, start: int) -> None:
    end = min(track.size, start + clip.size)
    if end > start:
        track[start:end] += clip[: end - start]


def tracks(drawn: Plan) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The digits, the babble and the noise of a plan, as separate tracks."""
    speech = np.zeros(drawn.samples, np.float32)
    for voicing in drawn.digits:
        _lay(speech, voice_clip(drawn.language, voicing), voicing.start)
    babble = np.zeros(drawn.samples, np.float32)
    for voicing in drawn.babble:
        clip = voice_clip(drawn.language, voicing)
        # Started before the file, so the first digit is not alone either.
        start = voicing.start - clip.size // 2
        _lay(babble, clip[max(0, -start) :], max(0, start))
    rng = np.random.default_rng(drawn.noise_seed)
    noise = rng.normal(0.0, rng.uniform(*_HISS), drawn.samples).astype(np.float32)
    # Brown noise (integrated white noise), centred and scaled: a low rumble.
    rumble = np.cumsum(rng.normal(0.0, 1.0, drawn.samples))
    rumble -= np.linspace(rumble[0], rumble[-1], drawn.samples)
    rumble *= rng.uniform(*_RUMBLE) / max(float(np.abs(rumble).max()), 1e-9)
    noise += rumble.astype(np.float32)
    return speech, babble, noise


def encode(signal: np.ndarray) -> bytes:
    """Peak-normalise and write 16 kHz mono 16-bit PCM WAV bytes."""
    mixed = signal * np.float32(_PEAK / max(float(np.abs(signal).max()), 1e-9))
    pcm = np.clip(np.round(mixed * 32767), -32768, 32767).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(SAMPLE_RATE)
        wav.writeframes(pcm.tobytes())
    return buffer.getvalue()


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
    speech, babble, noise = tracks(plan(answer, language, rng))
    return encode(speech + babble + noise)
