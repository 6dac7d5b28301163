"""The audio attacker that can hear: a spectrogram model trained on our renderer.

The attacker holds this repository. It renders N labelled challenges with the
package's own public code (``audio.plan``, ``audio.tracks``, ``audio.encode``:
exactly what ``audio.render_wav`` does), and since it drew each plan itself it
also knows where every digit sits. Each file becomes a log-mel spectrogram
(32 ms frames every 20 ms, 40 bands) and every frame gets a label: the digit
being spoken there, or none. A small convolutional network (a 2-D front end
over time and frequency, then dilated 1-D convolutions over time, about 0.7 s
of context per frame) learns the per-frame labels. Reading a served file is a
constrained decode: the best path through exactly four digit segments
separated by silence or babble (a Viterbi pass over 45 states).

Frame labels instead of CTC: an earlier CTC CRNN had to find the alignment
itself and learnt nothing from 1,000 files in an hour of CPU. This one
trains a few hundred files a second on two cores, so the learning curve to
100,000 renders is a matter of rendering time.

It is played against the site like every audio attacker
(``lab.audio.attack_served``): the WAV as the view serves it, the answer
through a form. Measuring, never serving: TensorFlow is imported lazily.
Renders (float16 features, in chunks, made by worker processes) and models
are cached under the lab's cache directory, keyed by what changes them.
"""

from __future__ import annotations

import hashlib
import inspect
import io
import math
import os
import wave
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gancaptcha_field import audio, constants
from gancaptcha_field.artifacts import atomic_path
from gancaptcha_lab.audio import mel_bank

PLACES = constants.ANSWER_LENGTH
CLASSES = 11  # 0: no digit (silence, babble, noise); 1-10: the digits 0-9
# 32 ms frames every 20 ms, 40 mel bands (80 Hz to 7.6 kHz), at 16 kHz.
FFT, HOP, BANDS = 512, 320, 40
CHUNK = 1000  # renders per cached file
VALIDATION_SEED = 99  # the held-out renders: one set for every N
VALIDATION_COUNT = 1000
# Examples seen: every N trains on about this many files in all (epochs of
# N), at least MIN_EPOCHS and at most MAX_EPOCHS; the best epoch on the
# held-out renders is kept. Fixed before any served result was seen (cut
# from 100,000 while the first model trained: the shared 2-core machine gave
# it some 20 files a second). An equal budget per N: a larger N is seen fewer
# times, so the curve understates what more compute would buy.
BUDGET = 30_000
MIN_EPOCHS, MAX_EPOCHS = 2, 30
BATCH = 64
TIME_POOL = 2  # the model's output steps are every other frame
Log = Callable[[str], None]


# The lab's mel filters (lab/audio.py), as float32.
_MEL = mel_bank(BANDS, FFT).astype(np.float32)
_WINDOW = np.hamming(FFT).astype(np.float32)


def clip_samples() -> int:
    """Samples in a served file of a four-digit answer (the length is fixed)."""
    return round(audio.SECONDS_PER_DIGIT * PLACES * audio.SAMPLE_RATE)


def frame_count() -> int:
    """Spectrogram frames of a served file."""
    return 1 + (clip_samples() - FFT) // HOP


def features(signal: np.ndarray) -> np.ndarray:
    """A (frames, 40) log-mel spectrogram of a served file's samples."""
    samples = clip_samples()
    signal = np.pad(signal[:samples], (0, max(0, samples - signal.size)))
    # The served level is random: only the shape says anything.
    signal = signal / (float(np.sqrt(np.mean(signal**2))) + 1e-9)
    frames = np.lib.stride_tricks.sliding_window_view(signal, FFT)[::HOP]
    power = np.abs(np.fft.rfft(frames * _WINDOW, axis=1)) ** 2
    logmel = np.log(power @ _MEL.T + 1e-3)
    return np.asarray((logmel - logmel.mean()) / (logmel.std() + 1e-6), np.float32)


def read_wav(data: bytes) -> np.ndarray:
    """WAV bytes (16 kHz mono 16-bit, as served) to float32 samples."""
    with wave.open(io.BytesIO(data), "rb") as wav:
        frames = wav.readframes(wav.getnframes())
    return np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32768.0


def spoken_length(language: str, voicing: audio.Voicing) -> int:
    """Samples a digit's rendered clip lasts (what audio.voice_clip returns)."""
    source = audio.source_clip(language, voicing).size
    stretched = round(source * voicing.tempo * voicing.pitch)
    return max(1, int(stretched / voicing.pitch))


def frame_labels(drawn: audio.Plan) -> np.ndarray:
    """Per frame: 1 + the digit whose span holds the frame's centre, else 0."""
    centres = np.arange(frame_count()) * HOP + FFT // 2
    labels = np.zeros(centres.size, np.int8)
    for voicing in drawn.digits:
        end = voicing.start + spoken_length(drawn.language, voicing)
        labels[(centres >= voicing.start) & (centres < end)] = voicing.item + 1
    return labels


@dataclass(frozen=True)
class RenderSet:
    """Labelled renders: spectrograms (float16), answers, per-frame labels."""

    x: np.ndarray  # (n, frames, BANDS) float16
    answers: np.ndarray  # (n, PLACES) int8
    labels: np.ndarray  # (n, frames) int8

    def __len__(self) -> int:
        return int(self.answers.shape[0])


def render_chunk(language: str, seed: int, index: int, size: int) -> RenderSet:
    """size labelled files from the public renderer, drawn from (seed, index)."""
    rng = np.random.default_rng([seed, index])
    answers = rng.integers(0, 10, (size, PLACES))
    xs, labels = [], []
    for row in answers:
        answer = "".join(map(str, row))
        # What audio.render_wav does, keeping the plan for the labels.
        drawn = audio.plan(answer, language, rng)
        speech, babble, noise = audio.tracks(drawn)
        xs.append(features(read_wav(audio.encode(speech + babble + noise))))
        labels.append(frame_labels(drawn))
    return RenderSet(
        np.stack(xs).astype(np.float16), answers.astype(np.int8), np.stack(labels)
    )


def _fingerprint(language: str, seed: int) -> str:
    """The renderer's code, its voices and the features: what changes a render."""
    digest = hashlib.sha256()
    digest.update(inspect.getsource(audio).encode())
    digest.update(inspect.getsource(features).encode())
    digest.update(inspect.getsource(frame_labels).encode())
    digest.update(repr((FFT, HOP, BANDS)).encode())
    for bank in audio.voices(language):
        digest.update(repr([clip.size for clip in bank]).encode())
    digest.update(f"{language}|{seed}".encode())
    return digest.hexdigest()[:12]


def _chunk_path(
    cache_dir: Path, language: str, seed: int, index: int, size: int
) -> Path:
    folder = cache_dir / "recogniser" / f"renders-{_fingerprint(language, seed)}"
    return folder / f"{language}-{seed}-{size}-{index:05d}.npz"


def _render_to(path: Path, language: str, seed: int, index: int, size: int) -> None:
    made = render_chunk(language, seed, index, size)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.savez(handle, x=made.x, answers=made.answers, labels=made.labels)


def render_set(
    language: str,
    count: int,
    seed: int,
    cache_dir: Path,
    log: Log,
    workers: int | None = None,
) -> RenderSet:
    """count labelled renders (cached in chunks; missing chunks made in parallel).

    The first N of a larger set are the set of N: the learning curve's points
    are nested.
    """
    size = min(CHUNK, count)
    chunks = math.ceil(count / size)
    paths = [_chunk_path(cache_dir, language, seed, i, size) for i in range(chunks)]
    missing = [i for i, p in enumerate(paths) if not p.is_file()]
    if missing:
        workers = workers or os.cpu_count() or 1
        log(
            f"recogniser {language}: rendering {len(missing) * size} files "
            f"({workers} workers)"
        )
        if workers == 1 or len(missing) == 1:
            for i in missing:
                _render_to(paths[i], language, seed, i, size)
        else:
            with ProcessPoolExecutor(workers) as pool:
                jobs = [
                    pool.submit(_render_to, paths[i], language, seed, i, size)
                    for i in missing
                ]
                for done, job in enumerate(jobs, 1):
                    job.result()
                    if done % 5 == 0 or done == len(jobs):
                        log(f"recogniser {language}: {done}/{len(jobs)} chunks")
    parts = [np.load(p) for p in paths]
    x = np.concatenate([p["x"] for p in parts])[:count]
    answers = np.concatenate([p["answers"] for p in parts])[:count]
    labels = np.concatenate([p["labels"] for p in parts])[:count]
    return RenderSet(x, answers, labels)


def build(frames: int | None = None, bands: int = BANDS) -> Any:
    """A 2-D front end over time and frequency (pitch shifts move the formants),
    halving time to 40 ms steps, then dilated 1-D convolutions over time (about
    0.8 s of context); per-step logits of CLASSES."""
    import keras
    from keras import layers

    inputs = keras.Input((frames, bands), name="spectrogram")
    x = layers.Reshape((-1, bands, 1))(inputs)
    for filters, pool in ((8, (1, 2)), (16, (2, 2))):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        x = layers.Activation("relu")(x)
        x = layers.MaxPooling2D(pool)(x)
    x = layers.Reshape((-1, (bands // 4) * 16))(x)
    x = layers.Conv1D(96, 1, activation="relu")(x)
    for dilation in (1, 2, 4, 1):
        y = layers.Conv1D(96, 3, padding="same", dilation_rate=dilation)(x)
        y = layers.BatchNormalization()(y)
        y = layers.Activation("relu")(y)
        x = layers.Add()([x, y])
    x = layers.Dropout(0.1)(x)
    outputs = layers.Dense(CLASSES, name="logits")(x)
    return keras.Model(inputs, outputs, name="audio_frame_recogniser")


def step_labels(labels: np.ndarray) -> np.ndarray:
    """Frame labels (n, frames) at the model's output rate (every other frame)."""
    steps = labels.shape[1] // TIME_POOL
    return np.ascontiguousarray(labels[:, : steps * TIME_POOL : TIME_POOL])


def _transitions(places: int) -> np.ndarray:
    """Log transition matrix (0 or -inf) over gap k (k = 0..places), then
    digit (k, d) at index places + 1 + 10 k + d."""
    size = places + 1 + 10 * places
    allowed = np.zeros((size, size), bool)

    def digit(k: int, d: int) -> int:
        return places + 1 + 10 * k + d

    for k in range(places + 1):
        allowed[k, k] = True
        if k < places:
            for d in range(10):
                allowed[k, digit(k, d)] = True
    for k in range(places):
        for d in range(10):
            allowed[digit(k, d), digit(k, d)] = True
            allowed[digit(k, d), k + 1] = True
            if k + 1 < places:  # straight on, no gap between two digits
                for e in range(10):
                    allowed[digit(k, d), digit(k + 1, e)] = True
    return np.where(allowed, 0.0, -np.inf)


def decode(logits: np.ndarray, places: int = PLACES) -> list[str]:
    """Per file, the best reading of exactly `places` digits from frame logits.

    A Viterbi pass over: none* d1+ none* d2+ ... none*, each digit segment one
    digit (any of the ten), scored by the sum of per-frame log probabilities.
    """
    trans = _transitions(places)
    size = trans.shape[0]
    # Which frame class each state emits: 0 for a gap, 1 + d for digit d.
    emits = np.concatenate(
        [np.zeros(places + 1, int), np.tile(np.arange(1, 11), places)]
    )
    start = np.full(size, -np.inf)
    start[0] = 0.0
    start[places + 1 : places + 11] = 0.0
    final = np.full(size, -np.inf)
    final[places] = 0.0
    final[places + 1 + 10 * (places - 1) :] = 0.0
    out = []
    for frames in np.asarray(logits, np.float64):
        shifted = frames - frames.max(axis=1, keepdims=True)
        logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        score = start + logp[0, emits]
        back = np.zeros((logp.shape[0], size), int)
        for t in range(1, logp.shape[0]):
            candidates = score[:, None] + trans
            back[t] = candidates.argmax(axis=0)
            score = candidates.max(axis=0) + logp[t, emits]
        state = int(np.argmax(score + final))
        path = [state]
        for t in range(logp.shape[0] - 1, 0, -1):
            state = int(back[t, state])
            path.append(state)
        reading, last = [], -1
        for state in reversed(path):
            if state > places and state != last:
                reading.append(str((state - places - 1) % 10))
            last = state
        out.append("".join(reading)[:places].ljust(places, "0"))
    return out


def digit_accuracy(guesses: list[str], truths: list[str]) -> tuple[float, float]:
    """(share of digits right, share of whole answers right)."""
    whole = sum(g == t for g, t in zip(guesses, truths, strict=True))
    digits = sum(
        a == b
        for g, t in zip(guesses, truths, strict=True)
        for a, b in zip(g, t, strict=True)
    )
    n = max(len(truths), 1)
    return digits / (n * PLACES), whole / n


def _answers(rows: np.ndarray) -> list[str]:
    return ["".join(map(str, row)) for row in rows.astype(int)]


class _Batches:
    """Shuffled float32 batches from the float16 renders (memory stays small)."""

    def __init__(self, data: RenderSet, seed: int) -> None:
        import keras

        class Feed(keras.utils.PyDataset):
            def __init__(self) -> None:
                super().__init__()
                self.rng = np.random.default_rng(seed)
                self.order = self.rng.permutation(len(data))

            def __len__(self) -> int:
                return math.ceil(len(data) / BATCH)

            def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
                rows = np.sort(self.order[index * BATCH : (index + 1) * BATCH])
                return (
                    data.x[rows].astype(np.float32),
                    step_labels(data.labels[rows]).astype(np.int32),
                )

            def on_epoch_end(self) -> None:
                self.order = self.rng.permutation(len(data))

        self.feed = Feed()


def epochs_for(count: int) -> int:
    """Epochs of count renders: about BUDGET files seen, within the bounds."""
    return max(MIN_EPOCHS, min(MAX_EPOCHS, BUDGET // count))


@dataclass(frozen=True)
class Trained:
    """A recogniser and its figures on the held-out renders."""

    model: Any
    count: int
    epochs: int
    held_out_digits: float
    held_out_files: float


def _model_path(
    cache_dir: Path, language: str, count: int, seed: int, epochs: int
) -> Path:
    digest = hashlib.sha256()
    digest.update(_fingerprint(language, seed).encode())
    digest.update(inspect.getsource(build).encode())
    digest.update(repr((BATCH, count, epochs)).encode())
    return (
        cache_dir / "recogniser" / f"{language}-{count}-{digest.hexdigest()[:12]}.keras"
    )


def load_or_train(
    language: str,
    count: int,
    cache_dir: Path,
    log: Log,
    seed: int = 7,
    epochs: int | None = None,
    validation: int = VALIDATION_COUNT,
    workers: int | None = None,
) -> Trained:
    """The recogniser trained on count renders (cached), with its held-out rates.

    The held-out renders (their own seed, the same for every N) choose the
    best epoch and give the accuracy reported; the served challenges are
    never seen.
    """
    import json

    import keras

    epochs = epochs if epochs is not None else epochs_for(count)
    path = _model_path(cache_dir, language, count, seed, epochs)
    held = render_set(
        language, validation, VALIDATION_SEED, cache_dir, log, workers=workers
    )
    figures_path = path.with_suffix(".json")
    if path.is_file() and figures_path.is_file():
        figures = json.loads(figures_path.read_text())
        log(f"recogniser {language} n={count}: cached at {path}")
        return Trained(
            keras.models.load_model(path, compile=False),
            count,
            epochs,
            figures["held_out_digits"],
            figures["held_out_files"],
        )
    train = render_set(language, count, seed, cache_dir, log, workers=workers)
    keras.utils.set_random_seed(seed)
    model = build(train.x.shape[1])
    steps = epochs * math.ceil(count / BATCH)
    model.compile(
        optimizer=keras.optimizers.Adam(
            keras.optimizers.schedules.CosineDecay(2e-3, steps, alpha=0.05)
        ),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )

    class Progress(keras.callbacks.Callback):
        def on_epoch_end(
            self, epoch: int, logs: dict[str, float] | None = None
        ) -> None:
            logs = logs or {}
            log(
                f"recogniser {language} n={count}: epoch {epoch + 1}/{epochs} "
                f"loss {logs.get('loss', float('nan')):.4f} "
                f"held-out {logs.get('val_loss', float('nan')):.4f}"
            )

    model.fit(
        _Batches(train, seed).feed,
        epochs=epochs,
        validation_data=(
            held.x.astype(np.float32),
            step_labels(held.labels).astype(np.int32),
        ),
        callbacks=[
            keras.callbacks.EarlyStopping(
                patience=epochs, restore_best_weights=True, monitor="val_loss"
            ),
            Progress(),
        ],
        verbose=0,
    )
    guesses = decode(model.predict(held.x.astype(np.float32), verbose=0))
    digits, files = digit_accuracy(guesses, _answers(held.answers))
    log(
        f"recogniser {language} n={count}: held-out digit accuracy {digits:.1%}, "
        f"files {files:.1%} ({len(held)} renders)"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        model.save(tmp)
    figures_path.write_text(
        json.dumps({"held_out_digits": digits, "held_out_files": files}) + "\n"
    )
    return Trained(model, count, epochs, digits, files)


class RecogniserSolver:
    """Reads a served WAV with a recogniser trained on the public renderer."""

    def __init__(self, model: Any, trained: Trained | None = None) -> None:
        self.model = model
        # What the lab's report carries beside the served figures.
        self.notes: dict[str, Any] = (
            {}
            if trained is None
            else {
                "renders": trained.count,
                "epochs": trained.epochs,
                "held_out_digit_accuracy": trained.held_out_digits,
                "held_out_file_accuracy": trained.held_out_files,
            }
        )

    def __call__(self, data: bytes, language: str) -> str:
        spec = features(read_wav(data))[None]
        return decode(np.asarray(self.model(spec, training=False)))[0]
