"""Play the attacker against the audio: template matching with the shipped clips.

Library code for ``manage.py captcha_attack --audio``. The attackers know
everything public: the clips in gancaptcha_field/voice/ (every voice), the
code in audio.py, and so every range it draws from. Each gets the WAV as the
audio view serves it and answers through a form with a GanCaptchaField:

- ``ncc``: normalised cross-correlation of the waveform with every clip of
  every voice, each resampled over a grid of speeds (what issue 10's attacker
  did, with the speed grid added);
- ``dtw``: MFCC frames of the file against MFCC templates of every clip of
  every voice at several pitch factors, by subsequence dynamic time warping (so
  tempo changes cost it nothing);
- ``size``: the file's length alone, read against a table the attacker builds
  by rendering answers with the public code;
- ``pocketsphinx``: the off-the-shelf recogniser (PocketSphinx 5, the en-US
  acoustic model its wheel bundles) held to a grammar of four spoken digits:
  the zero-effort row, English only;
- ``trained-N``: a recogniser trained on N files of our renderer
  (lab/recogniser.py).

Each finds the four best non-overlapping detections and reads them in time
order. ``oracle`` is no attacker: it is GIVEN every drawn parameter (voice,
warp, pitch, position) and only has to say which digit each slot holds; it is
the proxy, measurable here, that the digits are still in the file.
"""

from __future__ import annotations

import dataclasses
import html
import io
import json
import math
import re
import time
import wave
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gancaptcha_field import audio, challenges, constants
from gancaptcha_lab.attack import _attack_form, wilson_interval, write_text

ATTACKERS = ("ncc", "dtw", "size")
POCKETSPHINX = "pocketsphinx"
# Off-the-shelf recognisers that have a model for these languages only.
_MODEL_LANGUAGES = {POCKETSPHINX: ("en",)}
# "trained-N": a recogniser trained on N files of our own renderer
# (lab/recogniser.py); any N of at least 100.
TRAINED = "trained-"
RATE = audio.SAMPLE_RATE
# Matching runs at half rate: speech below 4 kHz is what the words are made of.
_DECIMATE = 2
_NCC_SPEEDS = (0.8, 0.87, 0.94, 1.0, 1.07, 1.14, 1.22)
_DTW_PITCHES = (0.84, 0.92, 1.0, 1.09, 1.19)
_SEPARATION = 0.45  # seconds between the starts of two digits (gaps >= 0.3 s)
_SIZE_CALIBRATION = 200  # local renders the size attacker learns from

# (wav bytes, language) -> the attacker's answer.
Solver = Callable[[bytes, str], str]


class AudioAttackError(Exception):
    """The audio attack could not run; the message says why."""


@dataclass(frozen=True)
class AudioAttackConfig:
    """What ``captcha_attack --audio`` runs."""

    count: int = 100  # challenges per language and attacker
    languages: tuple[str, ...] = audio.LANGUAGES
    attackers: tuple[str, ...] = ATTACKERS
    baseline: bool = True  # also attack the plain (0.x) renderer, offline
    json_path: Path | None = None
    cache_dir: Path | None = None  # where trained recognisers are kept
    # Also read clean files offline: the served renderer's digits alone (no
    # babble, no noise) and the shipped clips as they are.
    clean: bool = False


@dataclass
class Tally:
    """One attacker's results in one language."""

    attacker: str
    language: str
    route: str  # "served" (end to end) or "plain renderer" (offline baseline)
    attempts: int = 0
    solved: int = 0
    digits_right: int = 0
    cpu_seconds: float = 0.0
    sizes: set[int] = field(default_factory=set)
    notes: dict[str, Any] = field(default_factory=dict)  # e.g. held-out rates

    def add(self, guess: str, truth: str, solved: bool, cpu: float, size: int) -> None:
        """Count one attempt."""
        self.attempts += 1
        self.solved += int(solved)
        self.digits_right += sum(a == b for a, b in zip(guess, truth, strict=False))
        self.cpu_seconds += cpu
        self.sizes.add(size)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready figures."""
        low, high = wilson_interval(self.solved, self.attempts)
        n = max(self.attempts, 1)
        places = constants.ANSWER_LENGTH
        # Digits are not independent draws (one file, one voice mix): the
        # interval over 4n digits is a guide, narrower than the truth.
        digit_low, digit_high = wilson_interval(
            self.digits_right, self.attempts * places
        )
        return {
            "attacker": self.attacker,
            "language": self.language,
            "route": self.route,
            "attempts": self.attempts,
            "solved": self.solved,
            "solve_rate": self.solved / n,
            "solve_rate_95": [low, high],
            "digit_accuracy": self.digits_right / (n * places),
            "digit_accuracy_95": [digit_low, digit_high],
            "cpu_seconds_per_attempt": self.cpu_seconds / n,
            "distinct_file_sizes": len(self.sizes),
            **self.notes,
        }


# ---------------------------------------------------------------- decoding


def decode_wav(data: bytes) -> np.ndarray:
    """WAV bytes (mono 16-bit) to float32 samples; AudioAttackError otherwise."""
    try:
        with wave.open(io.BytesIO(data), "rb") as wav:
            if wav.getnchannels() != 1 or wav.getsampwidth() != 2:
                raise AudioAttackError("expected mono 16-bit PCM")
            frames = wav.readframes(wav.getnframes())
    except (wave.Error, EOFError) as exc:
        raise AudioAttackError(f"not a WAV file: {exc}") from exc
    return np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32768.0


def _half_rate(signal: np.ndarray) -> np.ndarray:
    kernel = np.hanning(15)[1:-1]
    kernel /= kernel.sum()
    return np.convolve(signal, kernel, mode="same")[::_DECIMATE].astype(np.float32)


def _pick(scores: np.ndarray, lengths: np.ndarray, hop: float, count: int) -> str:
    """The count best (digit, position) detections, far enough apart, in order.

    scores: (10, positions), higher is better; positions are starts, hop
    seconds apart.
    """
    scores = scores.copy()
    radius = max(1, int(_SEPARATION / hop))
    found = []
    for _ in range(count):
        digit, at = np.unravel_index(int(np.argmax(scores)), scores.shape)
        if not np.isfinite(scores[digit, at]):
            break
        found.append((int(at), int(digit)))
        scores[:, max(0, at - radius) : at + radius + 1] = -np.inf
    return "".join(str(d) for _, d in sorted(found))


# ---------------------------------------------------------------- ncc


@dataclass(frozen=True)
class _Templates:
    digits: np.ndarray  # (n,) digit of each template
    clips: tuple[np.ndarray, ...]


def _ncc_templates(language: str) -> _Templates:
    digits, clips = [], []
    for bank in audio.voices(language):
        for digit, clip in enumerate(bank):
            for speed in _NCC_SPEEDS:
                shaped = _half_rate(audio._resample(clip, speed))
                shaped = shaped - shaped.mean()
                clips.append(shaped / max(float(np.linalg.norm(shaped)), 1e-9))
                digits.append(digit)
    return _Templates(np.array(digits), tuple(clips))


class NccSolver:
    """Normalised cross-correlation with every clip at every grid speed."""

    def __init__(self, language: str, digits: int = constants.ANSWER_LENGTH) -> None:
        self.templates = _ncc_templates(language)
        self.count = digits

    def __call__(self, data: bytes, language: str) -> str:
        """Read the digits of one WAV file."""
        signal = _half_rate(decode_wav(data))
        longest = max(c.size for c in self.templates.clips)
        size = 1 << math.ceil(math.log2(signal.size + longest))
        spectrum = np.fft.rfft(signal, size)
        # Energy of every window of each template length, for the normalising.
        energy = np.concatenate([[0.0], np.cumsum(signal.astype(np.float64) ** 2)])
        positions = signal.size
        scores = np.full((10, positions), -np.inf)
        for digit, clip in zip(
            self.templates.digits, self.templates.clips, strict=True
        ):
            corr = np.fft.irfft(spectrum * np.conj(np.fft.rfft(clip, size)), size)
            ends = np.minimum(np.arange(positions) + clip.size, positions)
            local = np.sqrt(np.maximum(energy[ends] - energy[:positions], 1e-6))
            # A longer clip that fits as well explains more of the sound.
            score = corr[:positions] / local * math.sqrt(clip.size / 4000)
            np.maximum(scores[digit], score, out=scores[digit])
        hop = _DECIMATE / RATE
        return _pick(scores, np.zeros(10), hop, self.count)


# ---------------------------------------------------------------- dtw

_FRAME, _STEP, _BANDS, _CEPS = 400, 160, 40, 13


def mel_bank(bands: int = _BANDS, fft: int = 512) -> np.ndarray:
    """Triangular mel filters, 80 Hz to 7.6 kHz, over an ``fft``-point
    spectrum at the served rate: ``(bands, fft // 2 + 1)``."""

    def mel(f: np.ndarray) -> np.ndarray:
        return 2595 * np.log10(1 + f / 700)

    edges = 700 * (
        10
        ** (np.linspace(mel(np.array(80.0)), mel(np.array(7600.0)), bands + 2) / 2595)
        - 1
    )
    bins = np.fft.rfftfreq(fft, 1 / RATE)
    bank = np.zeros((bands, bins.size))
    for band in range(bands):
        low, centre, high = edges[band : band + 3]
        rising = (bins - low) / (centre - low)
        falling = (high - bins) / (high - centre)
        bank[band] = np.clip(np.minimum(rising, falling), 0, None)
    return bank


_MEL = mel_bank()
_DCT = np.cos(
    np.pi / _BANDS * (np.arange(_BANDS)[None, :] + 0.5) * np.arange(1, _CEPS)[:, None]
)


def mfcc(signal: np.ndarray) -> np.ndarray:
    """(frames, 12) MFCCs (c1..c12, no loudness), 25 ms frames every 10 ms."""
    if signal.size < _FRAME:
        signal = np.pad(signal, (0, _FRAME - signal.size))
    frames = np.lib.stride_tricks.sliding_window_view(signal, _FRAME)[::_STEP]
    power = np.abs(np.fft.rfft(frames * np.hamming(_FRAME), 512, axis=1)) ** 2
    # A floor above the hiss: quiet frames say nothing either way.
    logmel = np.log(power @ _MEL.T + 3.0)
    return np.asarray((logmel @ _DCT.T).astype(np.float32))


class DtwSolver:
    """Subsequence DTW of MFCC frames against every clip at several pitches.

    Steps (1,1), (1,2) and (2,1) let a template match anywhere from half to
    twice its length, so no tempo grid is needed; the pitch grid covers the
    formant shift. Cost per template frame; lowest wins.
    """

    def __init__(self, language: str, digits: int = constants.ANSWER_LENGTH) -> None:
        feats, owners, firsts = [], [], []
        row = 0
        for bank in audio.voices(language):
            for digit, clip in enumerate(bank):
                for pitch in _DTW_PITCHES:
                    f = mfcc(audio._resample(clip, pitch))
                    feats.append(f)
                    firsts.append(row)
                    owners.append(digit)
                    row += f.shape[0]
        self.rows = np.concatenate(feats)
        self.firsts = np.array(firsts)
        self.lasts = np.array([*self.firsts[1:], row]) - 1
        self.lengths = self.lasts - self.firsts + 1
        self.digits = np.array(owners)
        starts = np.zeros(row, bool)
        starts[self.firsts] = True
        self.start = starts
        second = np.zeros(row, bool)
        second[self.firsts + 1] = True
        self.second = second
        self.count = digits

    def __call__(self, data: bytes, language: str) -> str:
        """Read the digits of one WAV file."""
        x = mfcc(decode_wav(data))
        # Euclidean frame distances, (template rows, signal frames).
        cost = np.sqrt(
            np.maximum(
                (self.rows**2).sum(1)[:, None]
                + (x**2).sum(1)[None, :]
                - 2 * self.rows @ x.T,
                0,
            )
        )
        n = x.shape[0]
        inf = np.float32(np.inf)
        ends = np.full((len(self.digits), n), np.inf)
        prev2 = np.full(cost.shape[0], inf)
        prev1 = np.where(self.start, cost[:, 0], inf)
        ends[:, 0] = prev1[self.lasts] / self.lengths

        def down(v: np.ndarray, k: int) -> np.ndarray:
            out = np.empty_like(v)
            out[:k] = inf
            out[k:] = v[:-k]
            return out

        for j in range(1, n):
            c = cost[:, j]
            diag = down(prev1, 1)
            horiz = down(prev2, 1) + cost[:, j - 1]
            vert = down(prev1, 2) + down(c, 1)
            vert[self.second] = inf
            current = c + np.minimum(np.minimum(diag, horiz), vert)
            current[self.start] = c[self.start]
            ends[:, j] = current[self.lasts] / self.lengths
            prev2, prev1 = prev1, current
        # Best (lowest) cost per digit at each end frame; as a start position.
        scores = np.full((10, n), -np.inf)
        for digit in range(10):
            mine = self.digits == digit
            best = ends[mine].min(axis=0)
            length = int(np.median(self.lengths[mine]))
            shifted = np.full(n, np.inf)
            shifted[: n - length + 1] = best[length - 1 :]
            scores[digit] = -shifted
        return _pick(scores, np.zeros(10), _STEP / RATE, self.count)


# ---------------------------------------------------------------- size


class SizeSolver:
    """Answers from the file's size: a table learned by rendering locally."""

    def __init__(
        self,
        language: str,
        render: Callable[[str, str, np.random.Generator], bytes],
        seed: int = 0,
    ) -> None:
        rng = np.random.default_rng(seed)
        answers = [
            "".join(str(d) for d in rng.integers(0, 10, constants.ANSWER_LENGTH))
            for _ in range(_SIZE_CALIBRATION)
        ]
        counts = np.array([[a.count(str(d)) for d in range(10)] for a in answers])
        sizes = np.array([len(render(a, language, rng)) for a in answers], float)
        design = np.column_stack([counts, np.ones(len(answers))])
        self.coef, *_ = np.linalg.lstsq(design, sizes, rcond=None)
        every = np.array(
            [[f"{i:04d}".count(str(d)) for d in range(10)] for i in range(10_000)]
        )
        self.predicted = np.column_stack([every, np.ones(10_000)]) @ self.coef

    def __call__(self, data: bytes, language: str) -> str:
        """The answer whose expected size is nearest this file's."""
        return f"{int(np.argmin(np.abs(self.predicted - len(data)))):04d}"


# ---------------------------------------------------------------- pocketsphinx

_SPOKEN = {
    "zero": "0",
    "oh": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
}


def digit_grammar(places: int = constants.ANSWER_LENGTH) -> str:
    """A JSGF grammar of exactly `places` spoken digits ("oh" for zero too)."""
    words = " | ".join(_SPOKEN)
    return (
        "#JSGF V1.0;\ngrammar digits;\n"
        f"public <answer> = {' '.join(['<digit>'] * places)};\n"
        f"<digit> = {words};\n"
    )


def spoken_to_digits(hypothesis: str, places: int = constants.ANSWER_LENGTH) -> str:
    """A recogniser's words to an answer, cut or padded to `places` digits."""
    digits = "".join(_SPOKEN.get(word, "") for word in hypothesis.lower().split())
    return digits[:places].ljust(places, "0")


class PocketSphinxSolver:
    """PocketSphinx 5 with its bundled en-US model, held to four spoken digits.

    No training and no knowledge of our code: the zero-effort attacker. The
    grammar is the one thing it is told (the answer is four digits).
    """

    def __init__(self, language: str) -> None:
        if language not in _MODEL_LANGUAGES[POCKETSPHINX]:
            raise AudioAttackError(
                f"pocketsphinx bundles an en-US model only, not {language!r}"
            )
        try:
            from pocketsphinx import Decoder  # type: ignore[import-untyped,import-not-found,unused-ignore]
        except ImportError as exc:
            raise AudioAttackError(
                "the pocketsphinx attacker needs PocketSphinx 5: "
                "pip install -r requirements-bench.txt"
            ) from exc
        self.decoder = Decoder(lm=None, samprate=RATE, loglevel="ERROR")
        self.decoder.add_jsgf_string("digits", digit_grammar())
        self.decoder.activate_search("digits")

    def __call__(self, data: bytes, language: str) -> str:
        """Read the digits of one WAV file."""
        samples = decode_wav(data)
        pcm = np.clip(np.round(samples * 32768), -32768, 32767).astype("<i2")
        self.decoder.start_utt()
        self.decoder.process_raw(pcm.tobytes(), full_utt=True)
        self.decoder.end_utt()
        found = self.decoder.hyp()
        return spoken_to_digits(found.hypstr if found is not None else "")


# ---------------------------------------------------------------- renderers


def render_plain(answer: str, language: str, rng: np.random.Generator) -> bytes:
    """The 0.x renderer, for the baseline: one voice, joint speed, gaps, hiss.

    Clips one after another with random gaps, one speed factor per digit
    (pitch and tempo together), hiss and a murmur of reversed clips; the
    length follows the digits.
    """
    clips = audio.voices(language)[0]
    parts = [np.zeros(int(rng.uniform(0.3, 0.7) * RATE), np.float32)]
    for index, char in enumerate(answer):
        if index:
            parts.append(np.zeros(int(rng.uniform(0.3, 0.8) * RATE), np.float32))
        spoken = audio._resample(clips[int(char)], rng.uniform(0.9, 1.12))
        parts.append(spoken * np.float32(rng.uniform(0.7, 1.0)))
    parts.append(np.zeros(int(rng.uniform(0.3, 0.6) * RATE), np.float32))
    speech = np.concatenate(parts)
    noise = rng.normal(0.0, rng.uniform(0.01, 0.025), speech.size).astype(np.float32)
    for _ in range(int(rng.integers(2, 5))):
        murmur = clips[int(rng.integers(10))][::-1] * np.float32(
            rng.uniform(0.08, 0.14)
        )
        if murmur.size < speech.size:
            start = int(rng.integers(0, speech.size - murmur.size))
            noise[start : start + murmur.size] += murmur
    return audio.encode(speech + noise)


def trained_count(name: str) -> int | None:
    """N of a "trained-N" attacker; None for any other name or a bad N."""
    if not name.startswith(TRAINED):
        return None
    digits = name[len(TRAINED) :]
    if not (digits.isascii() and digits.isdigit()) or int(digits) < 100:
        return None
    return int(digits)


def make_solver(
    name: str,
    language: str,
    render: Any = audio.render_wav,
    cache_dir: Path | None = None,
    log: Callable[[str], None] = lambda _: None,
) -> Solver:
    """One attacker, ready for a language (templates built, or a model trained,
    once)."""
    count = trained_count(name)
    if count is not None:
        from gancaptcha_lab import recogniser

        if cache_dir is None:
            raise AudioAttackError("a trained recogniser needs a cache directory")
        trained = recogniser.load_or_train(language, count, cache_dir, log)
        return recogniser.RecogniserSolver(trained.model, trained)
    if name == POCKETSPHINX:
        return PocketSphinxSolver(language)
    if name == "ncc":
        return NccSolver(language)
    if name == "dtw":
        return DtwSolver(language)
    if name == "size":
        return SizeSolver(language, render)
    raise AudioAttackError(f"unknown attacker {name!r}; choose from {ATTACKERS}")


# ---------------------------------------------------------------- oracle


def oracle_read(drawn: audio.Plan) -> str:
    """Read a file GIVEN its plan: per slot, the digit whose render fits best.

    Every slot's voice, warp, pitch, tilt and position are known; the ten
    candidate digits are rendered with them and correlated with the mixed
    file at that position (babble and noise included).
    """
    speech, babble, noise = audio.tracks(drawn)
    mixed = speech + babble + noise
    answer = []
    for voicing in drawn.digits:
        best, best_score = 0, -np.inf
        for digit in range(10):
            clip = audio.voice_clip(
                drawn.language, dataclasses.replace(voicing, item=digit)
            )
            window = mixed[voicing.start : voicing.start + clip.size]
            clip = clip[: window.size]
            score = float(window @ clip) / max(
                float(np.linalg.norm(window) * np.linalg.norm(clip)), 1e-9
            )
            if score > best_score:
                best, best_score = digit, score
        answer.append(str(best))
    return "".join(answer)


def babble_ratio_db(drawn: audio.Plan) -> float:
    """Signal-to-babble ratio (dB) over the spans where a digit is spoken."""
    speech, babble, _ = audio.tracks(drawn)
    mask = np.zeros(drawn.samples, bool)
    for voicing in drawn.digits:
        clip = audio.voice_clip(drawn.language, voicing)
        mask[voicing.start : voicing.start + clip.size] = True
    return 10 * math.log10(
        float(np.sum(speech[mask] ** 2)) / max(float(np.sum(babble[mask] ** 2)), 1e-12)
    )


def oracle_report(language: str, count: int, seed: int = 0) -> dict[str, Any]:
    """The oracle's solve rate and the signal-to-babble ratios over count renders."""
    rng = np.random.default_rng(seed)
    solved, right, ratios = 0, 0, []
    for _ in range(count):
        answer = "".join(str(d) for d in rng.integers(0, 10, constants.ANSWER_LENGTH))
        drawn = audio.plan(answer, language, rng)
        guess = oracle_read(drawn)
        solved += guess == answer
        right += sum(a == b for a, b in zip(guess, answer, strict=True))
        ratios.append(babble_ratio_db(drawn))
    low, high = wilson_interval(solved, count)
    return {
        "language": language,
        "renders": count,
        "solved": solved,
        "solve_rate": solved / count,
        "solve_rate_95": [low, high],
        "digit_accuracy": right / (count * constants.ANSWER_LENGTH),
        "babble_db_mean": float(np.mean(ratios)),
        "babble_db_min": float(np.min(ratios)),
        "babble_db_max": float(np.max(ratios)),
    }


# ---------------------------------------------------------------- end to end

_AUDIO_SRC = re.compile(r'<audio[^>]*\ssrc="([^"]+)"')
_KEY = re.compile(r"/([^/]+)/audio\.wav")


def attack_served(
    solver: Solver,
    tally: Tally,
    count: int,
    log: Callable[[str], None],
) -> None:
    """count challenges end to end: page, audio view, answer posted to the form.

    Each challenge is issued by rendering a form with a GanCaptchaField (as a
    page view does), its audio fetched from the URL in the page through the
    real view (Django's test client, a fresh client address each time as a bot
    network would have), and the solver's answer bound to the form.
    """
    from django.conf import settings
    from django.test import Client
    from django.test.utils import override_settings

    form_class = _attack_form()
    hosts = [*settings.ALLOWED_HOSTS, "testserver"]
    with override_settings(ALLOWED_HOSTS=hosts):
        for index in range(count):
            page = str(form_class()["captcha"])
            found = _AUDIO_SRC.search(page)
            if found is None:
                raise AudioAttackError(
                    "the form rendered no audio player: is the challenge source "
                    "available (models or pool)?"
                )
            src = html.unescape(found.group(1)).split("?")[0]
            key_match = _KEY.search(src)
            if key_match is None:
                raise AudioAttackError(f"no key in the audio URL {src!r}")
            key = key_match.group(1)
            # Bookkeeping only: the solver never sees it.
            truth = challenges.get_answer_for_audio(key)
            client = Client(REMOTE_ADDR=f"198.18.{index // 250}.{index % 250 + 1}")
            response = client.get(f"{src}?lang={tally.language}")
            if response.status_code != 200 or truth is None:
                raise AudioAttackError(
                    f"the audio view answered {response.status_code} for a live key"
                )
            began = time.process_time()
            guess = solver(response.content, tally.language)
            cpu = time.process_time() - began
            form = form_class(data={"captcha_0": key, "captcha_1": guess})
            tally.add(guess, truth, form.is_valid(), cpu, len(response.content))
            if (index + 1) % 25 == 0 or index + 1 == count:
                log(
                    f"{tally.attacker} {tally.language}: {index + 1}/{count}, "
                    f"{tally.solved} solved"
                )


def render_clean_digits(answer: str, language: str, rng: np.random.Generator) -> bytes:
    """The served renderer's digits alone: every voice, warp, pitch and place
    as served, without the babble, hiss and rumble."""
    speech, _, _ = audio.tracks(audio.plan(answer, language, rng))
    return audio.encode(speech)


def render_clean_clips(answer: str, language: str, rng: np.random.Generator) -> bytes:
    """The shipped clips as they are: a random voice per digit, 0.4 s apart."""
    bank = audio.voices(language)
    silence = np.zeros(int(0.4 * RATE), np.float32)
    parts = [silence]
    for char in answer:
        parts += [bank[int(rng.integers(len(bank)))][int(char)], silence]
    return audio.encode(np.concatenate(parts))


CLEAN_ROUTES = {
    "clean digits": render_clean_digits,
    "clean clips": render_clean_clips,
}


def attack_offline(
    solver: Solver,
    tally: Tally,
    count: int,
    render: Callable[[str, str, np.random.Generator], bytes],
    seed: int = 1,
) -> None:
    """The solver on count files from render, offline (no site involved)."""
    rng = np.random.default_rng(seed)
    for _ in range(count):
        truth = "".join(str(d) for d in rng.integers(0, 10, constants.ANSWER_LENGTH))
        data = render(truth, tally.language, rng)
        began = time.process_time()
        guess = solver(data, tally.language)
        cpu = time.process_time() - began
        tally.add(guess, truth, guess == truth, cpu, len(data))


def attack_plain(solver: Solver, tally: Tally, count: int, seed: int = 1) -> None:
    """The baseline: the same solver on the 0.x renderer's files, offline."""
    rng = np.random.default_rng(seed)
    for _ in range(count):
        truth = "".join(str(d) for d in rng.integers(0, 10, constants.ANSWER_LENGTH))
        data = render_plain(truth, tally.language, rng)
        began = time.process_time()
        guess = solver(data, tally.language)
        cpu = time.process_time() - began
        tally.add(guess, truth, guess == truth, cpu, len(data))


def run(config: AudioAttackConfig, log: Callable[[str], None]) -> dict[str, Any]:
    """Every attacker in every language, end to end; the baseline and oracle."""
    if config.count < 1:
        raise AudioAttackError("count must be at least 1")
    for name in config.attackers:
        if name not in (*ATTACKERS, POCKETSPHINX) and trained_count(name) is None:
            raise AudioAttackError(
                f"unknown attacker {name!r}; choose from "
                f"{(*ATTACKERS, POCKETSPHINX)} or {TRAINED}N (N of at least 100)"
            )
    tallies: list[Tally] = []
    for language in config.languages:
        if language not in audio.LANGUAGES:
            raise AudioAttackError(f"no voice for language {language!r}")
        for name in config.attackers:
            if language not in _MODEL_LANGUAGES.get(name, (language,)):
                log(f"{name} {language}: no model for this language, skipped")
                continue
            # The plain renderer is another renderer: a recogniser trained on
            # the served one has no baseline there.
            if config.baseline and trained_count(name) is None:
                plain = Tally(name, language, "plain renderer")
                attack_plain(
                    make_solver(name, language, render_plain), plain, config.count
                )
                tallies.append(plain)
                log(
                    f"{name} {language}: plain renderer {plain.solved}/{plain.attempts}"
                )
            served = Tally(name, language, "served")
            solver = make_solver(name, language, cache_dir=config.cache_dir, log=log)
            served.notes.update(getattr(solver, "notes", {}))
            attack_served(solver, served, config.count, log)
            tallies.append(served)
            if config.clean:
                for route, render in CLEAN_ROUTES.items():
                    clean = Tally(name, language, route)
                    attack_offline(solver, clean, config.count, render)
                    tallies.append(clean)
                    log(f"{name} {language}: {route} {clean.solved}/{clean.attempts}")
    oracle = [oracle_report(language, config.count) for language in config.languages]
    report = {
        "count": config.count,
        "scores": [t.as_dict() for t in tallies],
        "oracle": oracle,
        "random_guess_rate": 10.0**-constants.ANSWER_LENGTH,
    }
    if config.json_path is not None:
        write_text(config.json_path, json.dumps(report, indent=2) + "\n")
    return report


def format_table(report: dict[str, Any]) -> str:
    """The report as a plain-text table."""
    header = (
        f"{'attacker':<6} {'lang':<4} {'route':<15} {'n':>5} {'solved':>7} "
        f"{'rate':>7} {'95% interval':>13} {'digits':>7} {'CPU s':>6} {'sizes':>6}"
    )
    lines = [
        "Audio: attackers that hold every clip and the code (template matching, "
        "file size, recognisers trained on N files of our renderer)",
        header,
    ]
    for s in report["scores"]:
        low, high = s["solve_rate_95"]
        lines.append(
            f"{s['attacker']:<6} {s['language']:<4} {s['route']:<15} "
            f"{s['attempts']:>5} {s['solved']:>7} {s['solve_rate']:>7.1%} "
            f"{f'{low:.1%}-{high:.1%}':>13} {s['digit_accuracy']:>7.1%} "
            f"{s['cpu_seconds_per_attempt']:>6.2f} {s['distinct_file_sizes']:>6}"
        )
    lines.append(f"random guess: {report['random_guess_rate']:.2%}")
    for o in report["oracle"]:
        low, high = o["solve_rate_95"]
        lines.append(
            f"oracle-aligned ({o['language']}, given every drawn parameter): "
            f"{o['solved']}/{o['renders']} solved ({low:.1%}-{high:.1%}), "
            f"digits {o['digit_accuracy']:.1%}; signal-to-babble "
            f"{o['babble_db_mean']:+.1f} dB (range {o['babble_db_min']:+.1f} to "
            f"{o['babble_db_max']:+.1f})"
        )
    return "\n".join(lines)


def save_spectrograms(folder: Path, answer: str = "4071", seed: int = 0) -> list[Path]:
    """docs/audio_before.png and docs/audio_after.png (the latter with its tracks).

    Run: ``python -c "from gancaptcha_lab import audio;
    audio.save_spectrograms(Path('docs'))"`` (needs matplotlib and Django set up).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def draw(axis: Any, signal: np.ndarray, title: str) -> None:
        axis.specgram(signal, NFFT=512, Fs=RATE, noverlap=384, cmap="magma", vmin=-120)
        axis.set_title(title, fontsize=9)
        axis.set_ylabel("Hz")

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    before = decode_wav(render_plain(answer, "en", rng))
    figure, axis = plt.subplots(figsize=(10, 3))
    draw(axis, before, f"before (0.x renderer): '{answer}', one voice, gaps, hiss")
    axis.set_xlabel("seconds")
    figure.tight_layout()
    written = [folder / "audio_before.png"]
    figure.savefig(written[0], dpi=60)
    plt.close(figure)

    drawn = audio.plan(answer, "en", np.random.default_rng(seed))
    speech, babble, noise = audio.tracks(drawn)
    voices = ", ".join(f"v{v.voice}" for v in drawn.digits)
    figure, axes = plt.subplots(3, 1, figsize=(10, 8), sharex=True)
    draw(axes[0], decode_wav(audio.encode(speech + babble + noise)), "after: as served")
    draw(axes[1], speech, f"after: the digits alone ({voices}; warped, shifted)")
    draw(axes[2], babble, "after: the babble alone (words, reversed digits)")
    for voicing in drawn.digits:
        for axis in axes:
            axis.axvline(voicing.start / RATE, color="cyan", linewidth=0.8)
    axes[2].set_xlabel(
        f"seconds (cyan: where each digit starts); "
        f"signal-to-babble {babble_ratio_db(drawn):+.1f} dB"
    )
    figure.tight_layout()
    written.append(folder / "audio_after.png")
    figure.savefig(written[1], dpi=60)
    plt.close(figure)
    return written
