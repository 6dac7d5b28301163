"""Internal. Training and measuring the digit classifiers (reader, verifier, judge)."""

from __future__ import annotations

from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf

from gancaptcha_field.constants import uint8_to_classifier_range
from gancaptcha_field.training.networks import build_judge, build_reader, build_verifier

BUILDERS: dict[str, Callable[[], keras.Model]] = {
    "reader": build_reader,
    "verifier": build_verifier,
    "judge": build_judge,
}


def as_input(x_uint8: np.ndarray) -> np.ndarray:
    """uint8 (n, 28, 28) digits to the classifiers' float (n, 28, 28, 1) in [0, 1]."""
    return uint8_to_classifier_range(x_uint8.astype(np.float32))[..., None]


def _augmenter(seed: int) -> keras.Sequential:
    # Small shifts, rotations and zooms: a judge that reads digits the way a
    # robust outside model would, not just MNIST's centring. Built once, outside
    # the tf.data map, because its layers own random-state variables.
    return keras.Sequential(
        [
            keras.layers.RandomRotation(0.05, fill_mode="constant", seed=seed),
            keras.layers.RandomTranslation(
                0.08, 0.08, fill_mode="constant", seed=seed + 1
            ),
            keras.layers.RandomZoom(0.1, fill_mode="constant", seed=seed + 2),
        ],
        name="augment",
    )


def train_classifier(
    name: str,
    x_train: np.ndarray,
    y_train: np.ndarray,
    epochs: int,
    seed: int,
    verbose: int = 0,
) -> keras.Model:
    """Build ``name`` ('reader', 'verifier' or 'judge') and fit it on uint8 digits."""
    keras.utils.set_random_seed(seed)
    model = BUILDERS[name]()
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    dataset = tf.data.Dataset.from_tensor_slices((as_input(x_train), y_train)).shuffle(
        len(x_train), seed=seed, reshuffle_each_iteration=True
    )
    dataset = dataset.batch(128)
    if name == "judge":
        augment = _augmenter(seed)
        dataset = dataset.map(lambda x, y: (augment(x, training=True), y))
    model.fit(dataset.prefetch(2), epochs=epochs, verbose=verbose, shuffle=False)
    return model


def predict(model: keras.Model, x_unit: np.ndarray, batch: int = 1024) -> np.ndarray:
    """Class probabilities for float images in [0, 1], (n, 28, 28, 1)."""
    out = [
        np.asarray(model(x_unit[i : i + batch], training=False))
        for i in range(0, len(x_unit), batch)
    ]
    return np.concatenate(out) if out else np.zeros((0, 10), np.float32)


def accuracy(model: keras.Model, x_uint8: np.ndarray, y: np.ndarray) -> float:
    """Top-1 accuracy on uint8 digits."""
    probs = predict(model, as_input(x_uint8))
    return float(np.mean(probs.argmax(axis=1) == y))


def inception_score(probs: np.ndarray) -> float:
    """exp(E_x KL(p(y|x) || p(y))): 10 for confident, balanced labels."""
    eps = 1e-12
    marginal = probs.mean(axis=0, keepdims=True)
    kl = np.sum(probs * (np.log(probs + eps) - np.log(marginal + eps)), axis=1)
    return float(np.exp(kl.mean()))
