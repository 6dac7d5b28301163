"""Internal. The independent judge: a digit classifier that plays no part in serving.

It is trained with augmentation on MNIST's training split and cached outside
the model directory, so it is never shipped or served. It measures legibility
(benchmarks/quality.py) and plays the attacker (captcha_attack).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import keras

from gancaptcha_field.artifacts import atomic_path
from gancaptcha_field.training import classifiers, data

JUDGE_SEED = 9001  # unrelated to every serving model's seed
JUDGE_EPOCHS = 4


def default_judge_path(model_dir: Path) -> Path:
    """Beside the model directory, never inside it: .cache/judge.keras."""
    return model_dir.resolve().parent / ".cache" / "judge.keras"


def load_or_train_judge(
    path: Path, mnist: data.Mnist, log: Callable[[str], None] = lambda _: None
) -> keras.Model:
    """The cached judge at ``path``, training it first (minutes) when absent."""
    if path.is_file():
        return keras.models.load_model(path, compile=False)
    log(f"judge: training {JUDGE_EPOCHS} epochs with augmentation (cached at {path})")
    model = classifiers.train_classifier(
        "judge", mnist.x_train, mnist.y_train, JUDGE_EPOCHS, JUDGE_SEED
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        model.save(tmp)
    return model
