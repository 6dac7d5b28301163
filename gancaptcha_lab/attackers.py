"""The attackers' own digit classifiers: built, trained on public MNIST, cached.

None of these is a serving model, the judge, or a model anyone hardens
against: each has its own architecture and seed, and lives in the lab's cache
directory (never GANCAPTCHA_MODEL_DIR). Inputs are (n, 28, 28, 1) floats in
[0, 1], white on black, as vision.mnist_centre makes them; outputs are logits.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gancaptcha_field import artifacts

Log = Callable[[str], None]


@dataclass(frozen=True)
class Spec:
    """One classifier to train: architecture, seed, epochs and training kind."""

    arch: str  # "mlp", "lenet" or "wide"
    seed: int
    epochs: int
    adversarial: bool = False  # fast adversarial training (FGSM, random start)
    epsilon: float = 0.3
    train_digits: int = 60000  # how much of MNIST's training split

    def key(self) -> str:
        """The cache file stem: everything that changes the weights."""
        kind = f"fgsm{self.epsilon:g}" if self.adversarial else "clean"
        return f"{self.arch}-s{self.seed}-e{self.epochs}-{kind}-n{self.train_digits}"


def build(arch: str) -> Any:
    """A small named Keras classifier; logits out."""
    import keras
    from keras import layers

    inputs = keras.Input((28, 28, 1), name="digits")
    if arch == "mlp":
        x = layers.Flatten()(inputs)
        x = layers.Dense(256, activation="relu")(x)
        x = layers.Dense(128, activation="relu")(x)
    elif arch == "lenet":
        x = layers.Conv2D(6, 5, padding="same", activation="relu")(inputs)
        x = layers.AveragePooling2D(2)(x)
        x = layers.Conv2D(16, 5, activation="relu")(x)
        x = layers.AveragePooling2D(2)(x)
        x = layers.Flatten()(x)
        x = layers.Dense(120, activation="relu")(x)
        x = layers.Dense(84, activation="relu")(x)
    elif arch == "wide":
        x = inputs
        for filters in (16, 32):
            x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
            x = layers.BatchNormalization()(x)
            x = layers.Activation("relu")(x)
            x = layers.MaxPooling2D()(x)
            x = layers.Dropout(0.25)(x)
        x = layers.Flatten()(x)
        x = layers.Dense(128, activation="relu")(x)
        x = layers.Dropout(0.5)(x)
    else:
        raise ValueError(f"unknown architecture: {arch}")
    outputs = layers.Dense(10, name="logits")(x)
    return keras.Model(inputs, outputs, name=f"lab_{arch}")


def _compile(model: Any, learning_rate: float = 1e-3) -> None:
    import keras

    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )


def train_clean(spec: Spec, x: np.ndarray, y: np.ndarray) -> Any:
    """Plain training on MNIST digits x (n, 28, 28, 1) in [0, 1]."""
    import keras

    keras.utils.set_random_seed(spec.seed)
    model = build(spec.arch)
    _compile(model)
    model.fit(x, y, epochs=spec.epochs, batch_size=128, shuffle=True, verbose=0)
    return model


def train_fgsm(spec: Spec, x: np.ndarray, y: np.ndarray) -> Any:
    """Fast adversarial training (Wong et al. 2020): FGSM from a random start."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(spec.seed)
    model = build(spec.arch)
    optimizer = keras.optimizers.Adam(1e-3)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    eps, alpha = spec.epsilon, 1.25 * spec.epsilon

    @tf.function  # type: ignore[untyped-decorator]
    def step(xb: Any, yb: Any) -> Any:
        delta = tf.random.uniform(tf.shape(xb), -eps, eps)
        with tf.GradientTape() as tape:
            tape.watch(delta)
            loss = loss_fn(yb, model(tf.clip_by_value(xb + delta, 0, 1)))
        grad = tape.gradient(loss, delta)
        delta = tf.clip_by_value(delta + alpha * tf.sign(grad), -eps, eps)
        adv = tf.stop_gradient(tf.clip_by_value(xb + delta, 0, 1))
        with tf.GradientTape() as tape:
            loss = loss_fn(yb, model(adv, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    rng = np.random.default_rng(spec.seed)
    for _ in range(spec.epochs):
        order = rng.permutation(len(x))
        for start in range(0, len(x), 128):
            batch = order[start : start + 128]
            step(tf.constant(x[batch]), tf.constant(y[batch]))
    return model


def fine_tune(
    model: Any, x: np.ndarray, y: np.ndarray, seed: int, max_steps: int = 600
) -> Any:
    """A copy of ``model`` trained further on labelled pieces from the site."""
    import keras

    keras.utils.set_random_seed(seed)
    tuned = keras.models.clone_model(model)
    tuned.set_weights(model.get_weights())
    _compile(tuned, 3e-4)
    batch = 32
    steps_per_epoch = max(1, -(-len(x) // batch))
    epochs = max(2, min(30, max_steps // steps_per_epoch))
    tuned.fit(x, y, epochs=epochs, batch_size=batch, shuffle=True, verbose=0)
    return tuned


def predict(model: Any, digits: np.ndarray) -> np.ndarray:
    """(n, 28, 28) digits in [0, 1] to (n,) predicted labels."""
    if len(digits) == 0:
        return np.zeros(0, np.int64)
    x = digits.reshape(-1, 28, 28, 1).astype(np.float32)
    # Eager calls: no function traced (and retraced per batch size) per model.
    return np.concatenate(
        [
            np.asarray(model(x[i : i + 1024], training=False)).argmax(axis=1)
            for i in range(0, len(x), 1024)
        ]
    )


def mnist(path: Path, limit: int) -> tuple[np.ndarray, np.ndarray]:
    """MNIST's training split from the bundled npz, scaled to [0, 1]."""
    with np.load(path) as data:
        x = data["x_train"][:limit].astype(np.float32) / 255.0
        y = data["y_train"][:limit].astype(np.int64)
    return x[..., None], y


def load_or_train(
    spec: Spec, cache_dir: Path, mnist_path: Path, log: Log
) -> tuple[Any, float, bool]:
    """(model, CPU-seconds its training took, whether it came from the cache)."""
    import keras

    path = cache_dir / "models" / f"{spec.key()}.keras"
    meta = path.with_suffix(".json")
    if path.is_file() and meta.is_file():
        cpu = float(json.loads(meta.read_text()).get("train_cpu_s", 0.0))
        return keras.models.load_model(path, compile=False), cpu, True
    log(f"training {spec.key()} (cached at {path})")
    x, y = mnist(mnist_path, spec.train_digits)
    started = time.process_time()
    model = (train_fgsm if spec.adversarial else train_clean)(spec, x, y)
    cpu = time.process_time() - started
    path.parent.mkdir(parents=True, exist_ok=True)
    with artifacts.atomic_path(path) as tmp:
        model.save(tmp)
    artifacts.write_json(meta, {"train_cpu_s": cpu, "spec": spec.key()})
    return model, cpu, False


def fingerprint(*parts: bytes) -> str:
    """A short hash naming a cache entry."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part)
    return digest.hexdigest()[:12]
