"""Play the attacker: read real challenges' PNGs with outside classifiers.

Library code for ``manage.py captcha_attack``. It is not a serving path, so it
may use the training package (the judge) and TensorFlow, imported lazily.
An attacker sees only the PNG; each one is decoded alone, the way a scraper
would: four equal cells, each downscaled to 28x28, inverted to white on black.
"""

from __future__ import annotations

import io
import json
import math
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps

from gancaptcha_field import challenges, constants

RANDOM_GUESS_RATE = 10.0**-constants.ANSWER_LENGTH

# (n, 28, 28, 1) floats in [0, 1] -> (n,) predicted digits.
Reader = Callable[[np.ndarray], np.ndarray]


class AttackError(Exception):
    """The attack could not run; the message says why."""


@dataclass(frozen=True)
class AttackConfig:
    """What to attack and with which classifiers."""

    count: int = 1000
    judge_path: Path | None = None  # default: default_judge_path(MODEL_DIR)
    reader_path: Path | None = None  # default: MODEL_DIR/reader.keras
    data: str = "bundled"  # MNIST for training the judge when it is not cached
    json_path: Path | None = None


@dataclass(frozen=True)
class Score:
    """How one classifier did on the same challenges."""

    name: str
    challenges: int
    solved: int
    digits_right: int
    per_digit: dict[str, float] = field(default_factory=dict)  # by true digit

    @property
    def solve_rate(self) -> float:
        """The share of challenges read right end to end (all four digits)."""
        return self.solved / self.challenges if self.challenges else 0.0

    @property
    def digit_accuracy(self) -> float:
        """The share of single digits read right."""
        total = self.challenges * constants.ANSWER_LENGTH
        return self.digits_right / total if total else 0.0

    @property
    def solve_rate_interval(self) -> tuple[float, float]:
        """Wilson 95% interval of the solve rate."""
        return wilson_interval(self.solved, self.challenges)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready figures."""
        low, high = self.solve_rate_interval
        return {
            **asdict(self),
            "solve_rate": self.solve_rate,
            "solve_rate_95": [low, high],
            "digit_accuracy": self.digit_accuracy,
        }


def wilson_interval(
    successes: int, trials: int, z: float = 1.96
) -> tuple[float, float]:
    """The Wilson score interval of a binomial proportion."""
    if trials == 0:
        return 0.0, 1.0
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials))
    half /= denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def decode_png(png: bytes) -> np.ndarray:
    """A challenge PNG to (4, 28, 28) floats in [0, 1], white on black."""
    with Image.open(io.BytesIO(png)) as image:
        grey = image.convert("L")
    cells = constants.ANSWER_LENGTH
    width = grey.width // cells
    size = constants.IMAGE_SIZE
    digits = []
    for index in range(cells):
        cell = grey.crop((index * width, 0, (index + 1) * width, grey.height))
        cell = ImageOps.invert(cell.resize((size, size), Image.Resampling.BOX))
        digits.append(np.asarray(cell, np.float32) / 255.0)
    return np.stack(digits)


def collect(count: int, log: Callable[[str], None]) -> tuple[np.ndarray, np.ndarray]:
    """Issue ``count`` real challenges; their decoded cells and their answers.

    Each challenge is discarded once read, so none stays live.
    """
    cells, answers = [], []
    for index in range(count):
        try:
            issued = challenges.create_challenge()
        except challenges.CaptchaUnavailable as exc:
            raise AttackError(f"could not issue a challenge: {exc}") from exc
        png = challenges.get_png(issued.key)
        challenges.discard(issued.key)
        if png is None:
            raise AttackError("a challenge vanished before its image was read")
        cells.append(decode_png(png))
        answers.append([int(c) for c in issued.answer])
        if (index + 1) % 100 == 0 or index + 1 == count:
            log(f"collected {index + 1}/{count} challenges")
    return np.stack(cells), np.array(answers, np.int64)


def score(name: str, read: Reader, cells: np.ndarray, answers: np.ndarray) -> Score:
    """Read every cell with ``read`` and count what it got right."""
    n = len(answers)
    flat = cells.reshape(n * constants.ANSWER_LENGTH, *cells.shape[2:])[..., None]
    predicted = np.asarray(read(flat)).reshape(answers.shape)
    right = predicted == answers
    per_digit = {
        str(digit): float(right[answers == digit].mean())
        for digit in range(constants.NUM_CLASSES)
        if (answers == digit).any()
    }
    return Score(
        name=name,
        challenges=n,
        solved=int(right.all(axis=1).sum()),
        digits_right=int(right.sum()),
        per_digit=per_digit,
    )


def keras_reader(model: Any) -> Reader:
    """A Keras classifier of (n, 28, 28, 1) [0, 1] images as a Reader."""
    from gancaptcha_field.training import classifiers

    def read(images: np.ndarray) -> np.ndarray:
        return np.asarray(classifiers.predict(model, images).argmax(axis=1))

    return read


def run(
    config: AttackConfig, model_dir: Path, log: Callable[[str], None]
) -> dict[str, Any]:
    """Collect challenges, read them with the judge and the shipped reader."""
    import keras

    from gancaptcha_field.training import data, judge

    if config.count < 1:
        raise AttackError("count must be at least 1")
    judge_path = config.judge_path or judge.default_judge_path(model_dir)
    reader_path = config.reader_path or model_dir / constants.READER_FILE
    if not judge_path.is_file():
        log(f"no judge at {judge_path}: training one (a few minutes, once)")
    try:
        judge_model = judge.load_or_train_judge(
            judge_path, _lazy_mnist(config.data, model_dir), log
        )
    except data.DataError as exc:
        raise AttackError(f"could not train the judge: {exc}") from exc
    except Exception as exc:  # a damaged .keras file raises many kinds
        raise AttackError(f"could not load the judge {judge_path}: {exc}") from exc
    cells, answers = collect(config.count, log)
    scores = [
        score(
            "judge (independent MNIST classifier)",
            keras_reader(judge_model),
            cells,
            answers,
        )
    ]
    if reader_path.is_file():
        reader = keras.models.load_model(reader_path, compile=False)
        scores.append(
            score(
                "shipped reader (attacker has our model)",
                keras_reader(reader),
                cells,
                answers,
            )
        )
    else:
        log(f"no reader at {reader_path}: skipping the shipped-reader row")
    report = {
        "challenges": config.count,
        "judge": str(judge_path),
        "reader": str(reader_path) if reader_path.is_file() else None,
        "random_guess_rate": RANDOM_GUESS_RATE,
        "scores": [s.as_dict() for s in scores],
    }
    if config.json_path is not None:
        write_json(report, config.json_path)
    return report


class _LazyMnist:
    """Loads MNIST only if the judge has to be trained."""

    def __init__(self, spec: str, model_dir: Path) -> None:
        self._spec = spec
        self._model_dir = model_dir
        self._data: Any = None

    def __getattr__(self, name: str) -> Any:
        from gancaptcha_field.training import data

        if self._data is None:
            self._data = data.load(self._spec, self._model_dir)
        return getattr(self._data, name)


def _lazy_mnist(spec: str, model_dir: Path) -> Any:
    return _LazyMnist(spec, model_dir)


def write_json(report: dict[str, Any], path: Path) -> None:
    """Write the report atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(report, indent=2) + "\n")
    os.replace(tmp, path)


def format_table(report: dict[str, Any]) -> str:
    """The report as a plain-text table."""
    header = f"{'attacker':<42} {'solved':>8} {'95% interval':>17} {'digits':>8}"
    lines = [f"{report['challenges']} challenges, each PNG decoded alone", header]
    for s in report["scores"]:
        low, high = s["solve_rate_95"]
        lines.append(
            f"{s['name']:<42} {s['solve_rate']:>8.2%} "
            f"{f'{low:.1%}-{high:.1%}':>17} {s['digit_accuracy']:>8.2%}"
        )
    lines.append(f"{'random guess':<42} {report['random_guess_rate']:>8.2%}")
    for s in report["scores"]:
        per_digit = " ".join(f"{d}:{a:.0%}" for d, a in s["per_digit"].items())
        lines.append(f"per digit, {s['name']}: {per_digit}")
    return "\n".join(lines)
