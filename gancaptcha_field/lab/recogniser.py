"""The audio attacker that can hear: a spectrogram model trained on our renderer.

The attacker holds this repository. It renders N labelled challenges with the
package's own public code (``audio.render_wav``, its voices and its babble),
turns each into a log-mel spectrogram, and trains a small convolutional and
recurrent network with CTC, as speech recognisers are trained (no alignment
needed: it learns where the digits are). It is then played against the site
like every audio attacker (``lab.audio.attack_served``): the WAV as the view
serves it, the answer through a form.

Measuring, never serving: TensorFlow is imported lazily. Renders and models
are cached under the lab's cache directory, keyed by what changes them.
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from gancaptcha_field import audio, constants
from gancaptcha_field.artifacts import atomic_path

PLACES = constants.ANSWER_LENGTH
# 25 ms frames every 10 ms, 40 mel bands (the lab's bank), at 16 kHz.
_FRAME, _STEP = 400, 160
Log = Callable[[str], None]


def features(signal: np.ndarray) -> np.ndarray:
    """A (frames, 40) log-mel spectrogram of a served file's samples."""
    from gancaptcha_field.lab.audio import _MEL

    samples = round(audio.SECONDS_PER_DIGIT * PLACES * audio.SAMPLE_RATE)
    signal = np.pad(signal[:samples], (0, max(0, samples - signal.size)))
    # The served level is random: only the shape says anything.
    signal = signal / (float(np.sqrt(np.mean(signal**2))) + 1e-9)
    frames = np.lib.stride_tricks.sliding_window_view(signal, _FRAME)[::_STEP]
    power = np.abs(np.fft.rfft(frames * np.hamming(_FRAME), 512, axis=1)) ** 2
    logmel = np.log(power @ _MEL.T + 1e-3).astype(np.float32)
    return np.asarray((logmel - logmel.mean()) / (logmel.std() + 1e-6), np.float32)


def _fingerprint(language: str, count: int, seed: int) -> str:
    """The renderer's code, its voices' sizes and the draw: what changes a set."""
    from gancaptcha_field.lab import audio as lab_audio

    digest = hashlib.sha256()
    digest.update(inspect.getsource(audio).encode())
    digest.update(inspect.getsource(features).encode())
    digest.update(inspect.getsource(build).encode())
    digest.update(repr(lab_audio._MEL.shape).encode())
    digest.update(f"{language}|{count}|{seed}".encode())
    return digest.hexdigest()[:12]


def render_set(
    language: str, count: int, seed: int, log: Log
) -> tuple[np.ndarray, np.ndarray]:
    """count labelled files rendered with the public renderer, as spectrograms."""
    from gancaptcha_field.lab.audio import decode_wav

    rng = np.random.default_rng(seed)
    answers = rng.integers(0, 10, (count, PLACES))
    specs = []
    for index, row in enumerate(answers):
        wav = audio.render_wav("".join(map(str, row)), language, rng)
        specs.append(features(decode_wav(wav)))
        if (index + 1) % 1000 == 0:
            log(f"recogniser {language}: rendered {index + 1}/{count}")
    return np.stack(specs)[..., None], answers.astype(np.int32)


def build(frames: int, bands: int) -> Any:
    """Conv blocks over the spectrogram, a BiGRU over time, per-frame logits for
    CTC: class 0 is the blank, 1-10 the digits 0-9."""
    import keras
    from keras import layers

    inputs = keras.Input((frames, bands, 1), name="spectrogram")
    x = inputs
    for filters, pool in ((32, (2, 2)), (64, (2, 2)), (64, (1, 2))):
        x = layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
        x = layers.BatchNormalization()(x)
        x = layers.MaxPooling2D(pool)(x)
    x = layers.Reshape((x.shape[1], x.shape[2] * x.shape[3]))(x)
    x = layers.Dropout(0.2)(x)
    x = layers.Bidirectional(layers.GRU(96, return_sequences=True))(x)
    x = layers.Bidirectional(layers.GRU(96, return_sequences=True))(x)
    outputs = layers.Dense(11, name="logits")(x)
    return keras.Model(inputs, outputs, name="audio_recogniser")


def decode(logits: np.ndarray) -> list[str]:
    """Greedy CTC decoding, cut or padded to four digits (a guess is a guess)."""
    out = []
    for frames in np.asarray(logits).argmax(axis=-1):
        digits, last = [], 0
        for label in frames:
            if label != last and label != 0:
                digits.append(str(int(label) - 1))
            last = int(label)
        out.append("".join(digits)[:PLACES].ljust(PLACES, "0"))
    return out


def load_or_train(
    language: str,
    count: int,
    cache_dir: Path,
    log: Log,
    seed: int = 7,
    epochs: int | None = None,
) -> Any:
    """The recogniser trained on count renders (cached), with its held-out rates."""
    import keras

    # About 150,000 examples seen at most, ten epochs at least; the best
    # epoch on a tenth held out is kept.
    epochs = epochs if epochs is not None else max(10, min(60, 150_000 // count))
    name = f"{_fingerprint(language, count, seed)}-e{epochs}.keras"
    path = cache_dir / "recogniser" / name
    if path.is_file():
        log(f"recogniser {language} n={count}: cached at {path}")
        return keras.models.load_model(path, compile=False)
    x, y = render_set(language, count, seed, log)
    keras.utils.set_random_seed(seed)
    model = build(x.shape[1], x.shape[2])
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=keras.losses.CTC())
    held = max(1, count // 10)
    model.fit(
        x[held:],
        y[held:] + 1,  # 0 is CTC's blank
        batch_size=32,
        epochs=epochs,
        validation_data=(x[:held], y[:held] + 1),
        callbacks=[
            keras.callbacks.EarlyStopping(
                patience=6, restore_best_weights=True, monitor="val_loss"
            )
        ],
        verbose=0,
    )
    guesses = decode(model.predict(x[:held], verbose=0))
    truths = ["".join(map(str, row)) for row in y[:held]]
    whole = sum(g == t for g, t in zip(guesses, truths, strict=True)) / held
    digits = sum(
        a == b
        for g, t in zip(guesses, truths, strict=True)
        for a, b in zip(g, t, strict=True)
    ) / (held * PLACES)
    log(
        f"recogniser {language} n={count}: held-out digit accuracy {digits:.1%}, "
        f"files {whole:.1%}"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        model.save(tmp)
    return model


class RecogniserSolver:
    """Reads a served WAV with a recogniser trained on the public renderer."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def __call__(self, data: bytes, language: str) -> str:
        from gancaptcha_field.lab.audio import decode_wav

        spec = features(decode_wav(data))[None, ..., None]
        return decode(np.asarray(self.model(spec, training=False)))[0]
