"""The independent judge: a classifier that plays no part in serving.

Trained with augmentation on MNIST's training split, cached outside ml_models/
(in .cache/), and used to measure legibility and to play the attacker.
"""

from __future__ import annotations

from pathlib import Path

import keras

ROOT = Path(__file__).resolve().parent.parent
JUDGE_PATH = ROOT / ".cache" / "judge.keras"
JUDGE_SEED = 9001  # unrelated to any serving model's seed
JUDGE_EPOCHS = 4


def load_or_train_judge(mnist_path: Path | None = None, log=print) -> keras.Model:
    """The cached judge, training it first (a few minutes) when absent."""
    if JUDGE_PATH.is_file():
        return keras.models.load_model(JUDGE_PATH, compile=False)
    from gancaptcha_field.training import classifiers, data
    from gancaptcha_field.training.pipeline import _save_model

    mnist = data.load_npz(mnist_path or ROOT / "ml_models" / "data" / "mnist.npz")
    log(f"judge: training {JUDGE_EPOCHS} epochs with augmentation (cached at "
        f"{JUDGE_PATH})")
    model = classifiers.train_classifier(
        "judge", mnist.x_train, mnist.y_train, JUDGE_EPOCHS, JUDGE_SEED
    )
    JUDGE_PATH.parent.mkdir(parents=True, exist_ok=True)
    _save_model(model, JUDGE_PATH)
    return model
