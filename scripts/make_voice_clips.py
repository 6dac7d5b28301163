#!/usr/bin/env python3
"""Make the spoken-digit clips shipped in gancaptcha_field/voice/ (run once).

Writes <language>/v<N>/<digit>.wav (one folder per voice) and
<language>/babble/<NN>.wav (words that are not digits).

Needs espeak-ng (Debian: ``apt-get install -y espeak-ng``) and numpy; serving
reads the WAV files this writes and needs neither espeak-ng nor this script.

    .venv/bin/python scripts/make_voice_clips.py [--output DIR] [--languages de fr]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import wave
from pathlib import Path

import numpy as np

# 16 kHz mono 16-bit: telephone-plus quality, a few kilobytes per digit.
SAMPLE_RATE = 16_000
# Words rather than figures, so that each voice says exactly the word intended.
WORDS = {
    "en": (
        "zero",
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
    ),
    "es": (
        "cero",
        "uno",
        "dos",
        "tres",
        "cuatro",
        "cinco",
        "seis",
        "siete",
        "ocho",
        "nueve",
    ),
    "de": (
        "null",
        "eins",
        "zwei",
        "drei",
        "vier",
        "fünf",
        "sechs",
        "sieben",
        "acht",
        "neun",
    ),
    "fr": (
        "zéro",
        "un",
        "deux",
        "trois",
        "quatre",
        "cinq",
        "six",
        "sept",
        "huit",
        "neuf",
    ),
    "it": (
        "zero",
        "uno",
        "due",
        "tre",
        "quattro",
        "cinque",
        "sei",
        "sette",
        "otto",
        "nove",
    ),
    "pt-br": (
        "zero",
        "um",
        "dois",
        "três",
        "quatro",
        "cinco",
        "seis",
        "sete",
        "oito",
        "nove",
    ),
    # "één", not "een", which eSpeak reads as the article ("un").
    "nl": (
        "nul",
        "één",
        "twee",
        "drie",
        "vier",
        "vijf",
        "zes",
        "zeven",
        "acht",
        "negen",
    ),
    "pl": (
        "zero",
        "jeden",
        "dwa",
        "trzy",
        "cztery",
        "pięć",
        "sześć",
        "siedem",
        "osiem",
        "dziewięć",
    ),
}
# Several voices per language (espeak-ng voice + variant), one chosen per digit
# at serving, so that no single template fits every digit of a challenge.
VOICES = {
    "en": ("en-us", "en-us+m3", "en+f2", "en-gb-scotland+f4"),
    "es": ("es", "es+m3", "es-419+f2", "es+f4"),
    "de": ("de", "de+m3", "de+f2", "de+f4"),
    "fr": ("fr", "fr+m3", "fr-be+f2", "fr+f4"),
    "it": ("it", "it+m3", "it+f2", "it+f4"),
    "pt-br": ("pt-br", "pt-br+m3", "pt-br+f2", "pt-br+f4"),
    "nl": ("nl", "nl+m3", "nl+f2", "nl+f4"),
    "pl": ("pl", "pl+m3", "pl+f2", "pl+f4"),
}
# Words that are not digits (and do not rhyme with one), in the same voices:
# the babble laid under the digits at serving, real speech that a listener
# tells apart by meaning and a matcher only by shape.
BABBLE = {
    "en": (
        "apple",
        "river",
        "table",
        "window",
        "garden",
        "yellow",
        "morning",
        "paper",
        "button",
        "candle",
        "orange",
        "pocket",
    ),
    "es": (
        "casa",
        "mesa",
        "perro",
        "libro",
        "agua",
        "verde",
        "calle",
        "luna",
        "jardin",
        "camisa",
        "playa",
        "ventana",
    ),
    "de": (
        "Apfel",
        "Fenster",
        "Garten",
        "Tisch",
        "Blume",
        "Wasser",
        "Morgen",
        "Papier",
        "Kerze",
        "Tasche",
        "Himmel",
        "Brücke",
    ),
    "fr": (
        "pomme",
        "fenêtre",
        "jardin",
        "table",
        "rivière",
        "jaune",
        "matin",
        "papier",
        "bouton",
        "bougie",
        "orange",
        "poche",
    ),
    "it": (
        "mela",
        "finestra",
        "giardino",
        "tavolo",
        "fiume",
        "giallo",
        "mattina",
        "carta",
        "bottone",
        "candela",
        "arancia",
        "tasca",
    ),
    "pt-br": (
        "maçã",
        "janela",
        "jardim",
        "mesa",
        "rio",
        "amarelo",
        "manhã",
        "papel",
        "botão",
        "vela",
        "laranja",
        "bolso",
    ),
    "nl": (
        "appel",
        "raam",
        "tuin",
        "tafel",
        "rivier",
        "geel",
        "ochtend",
        "papier",
        "knoop",
        "kaars",
        "oranje",
        "lamp",
    ),
    "pl": (
        "jabłko",
        "okno",
        "ogród",
        "stół",
        "rzeka",
        "żółty",
        "poranek",
        "papier",
        "guzik",
        "świeca",
        "lampa",
        "kieszeń",
    ),
}
WORDS_PER_MINUTE = 140  # a little slower than espeak-ng's default 175
SILENCE_LEVEL = 0.02  # of full scale; quieter edges are trimmed
PEAK = 0.9

DEFAULT_OUTPUT = Path(__file__).resolve().parent.parent / "gancaptcha_field" / "voice"


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """Mono 16-bit PCM as float64 in [-1, 1], and its sample rate."""
    with wave.open(str(path), "rb") as wav:
        if wav.getnchannels() != 1 or wav.getsampwidth() != 2:
            raise ValueError(f"{path}: expected mono 16-bit PCM")
        rate = wav.getframerate()
        frames = wav.readframes(wav.getnframes())
    return np.frombuffer(frames, dtype="<i2").astype(np.float64) / 32768.0, rate


def resample(signal: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Low-pass below the new Nyquist frequency, then interpolate."""
    if rate_in == rate_out:
        return signal
    cutoff = 0.45 * min(rate_in, rate_out) / rate_in  # cycles per input sample
    taps = np.arange(-64, 65)
    kernel = 2 * cutoff * np.sinc(2 * cutoff * taps) * np.hamming(taps.size)
    filtered = np.convolve(signal, kernel / kernel.sum(), mode="same")
    count = round(signal.size * rate_out / rate_in)
    return np.interp(
        np.arange(count) * rate_in / rate_out, np.arange(signal.size), filtered
    )


def trim(signal: np.ndarray, rate: int) -> np.ndarray:
    """Cut leading and trailing silence, keeping 20 ms either side."""
    loud = np.flatnonzero(np.abs(signal) > SILENCE_LEVEL * np.abs(signal).max())
    if loud.size == 0:
        raise ValueError("the clip is silent")
    pad = rate // 50
    return signal[max(0, loud[0] - pad) : loud[-1] + pad]


def write_wav(path: Path, signal: np.ndarray, rate: int) -> None:
    """Write mono 16-bit PCM atomically (a temp file renamed into place)."""
    pcm = np.clip(np.round(signal * 32767), -32768, 32767).astype("<i2")
    tmp = path.with_suffix(".tmp")
    with wave.open(str(tmp), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(pcm.tobytes())
    tmp.replace(path)


def speak(espeak: str, voice: str, word: str, workdir: Path) -> np.ndarray:
    """One word from espeak-ng, resampled, trimmed and peak-normalised."""
    raw = workdir / "word.wav"
    subprocess.run(
        [espeak, "-v", voice, "-s", str(WORDS_PER_MINUTE), "-w", str(raw), word],
        check=True,
        capture_output=True,
    )
    signal, rate = read_wav(raw)
    signal = trim(resample(signal, rate, SAMPLE_RATE), SAMPLE_RATE)
    return np.asarray(signal * (PEAK / np.abs(signal).max()))


def main(argv: list[str] | None = None) -> int:
    """Write <output>/<language>/<digit>.wav for every language and digit."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--output",
        type=Path,
        default=DEFAULT_OUTPUT,
        help="voice directory (default: %(default)s)",
    )
    parser.add_argument(
        "--languages",
        nargs="+",
        choices=sorted(WORDS),
        default=sorted(WORDS),
        help="languages to (re)write; the others' clips are left as they are "
        "(default: all)",
    )
    args = parser.parse_args(argv)
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        print("espeak-ng not found; apt-get install -y espeak-ng", file=sys.stderr)
        return 1
    version = (
        subprocess.run(
            [espeak, "--version"], check=True, capture_output=True, text=True
        )
        .stdout.split("Data at")[0]
        .strip(" :\n")
    )
    with tempfile.TemporaryDirectory() as tmp:
        for language in args.languages:
            words = WORDS[language]
            for index, voice in enumerate(VOICES[language]):
                folder = args.output / language / f"v{index}"
                folder.mkdir(parents=True, exist_ok=True)
                for digit, word in enumerate(words):
                    signal = speak(espeak, voice, word, Path(tmp))
                    write_wav(folder / f"{digit}.wav", signal, SAMPLE_RATE)
                    seconds = signal.size / SAMPLE_RATE
                    print(f"{language}/v{index}/{digit}.wav  {word:9} {seconds:.2f} s")
            folder = args.output / language / "babble"
            folder.mkdir(parents=True, exist_ok=True)
            for index, word in enumerate(BABBLE[language]):
                voice = VOICES[language][index % len(VOICES[language])]
                signal = speak(espeak, voice, word, Path(tmp))
                write_wav(folder / f"{index:02d}.wav", signal, SAMPLE_RATE)
    (args.output / "SOURCE.txt").write_text(
        f"Made by scripts/make_voice_clips.py with {version};\n"
        f"voices {VOICES},\nbabble words {BABBLE},\n"
        f"{WORDS_PER_MINUTE} words per minute, "
        f"{SAMPLE_RATE} Hz mono 16-bit PCM.\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
