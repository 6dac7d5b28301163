"""The attacker's figures: PNG decoding, scoring, and the command end to end."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from django.core.management import CommandError, call_command
from django.test import override_settings

from gancaptcha_field import constants
from gancaptcha_field.lab import attack
from gancaptcha_field.models import Challenge
from gancaptcha_field.supply.render import compose_png

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def mnist() -> Any:
    """The bundled offline copy of MNIST."""
    from gancaptcha_field.training import data

    return data.load_npz(ROOT / "ml_models" / constants.BUNDLED_DATA_FILE)


@pytest.fixture(scope="module")
def mnist_test(mnist: Any) -> tuple[np.ndarray, np.ndarray]:
    """MNIST's test split."""
    return mnist.x_test, mnist.y_test


@pytest.fixture(scope="module")
def tiny_judge(tmp_path_factory: pytest.TempPathFactory, mnist: Any) -> Path:
    """The judge's network trained for one epoch on 1000 digits (seconds).

    Without classifiers.train_classifier("judge"): its augmentation step builds
    layers inside tf.data's traced function, which TensorFlow refuses.
    """
    import keras

    from gancaptcha_field.training import classifiers, networks

    keras.utils.set_random_seed(5)
    model = networks.build_judge()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x, y = mnist.x_train[:1000], mnist.y_train[:1000]
    model.fit(classifiers.as_input(x), y, epochs=1, batch_size=32, verbose=0)
    path = tmp_path_factory.mktemp("judge") / "judge.keras"
    model.save(path)
    return path


@pytest.mark.parametrize("scale", [1, 2, 3])
def test_decode_png_recovers_the_digits(
    mnist_test: tuple[np.ndarray, np.ndarray], scale: int
) -> None:
    digits = mnist_test[0][:4]
    decoded = attack.decode_png(compose_png(digits, scale))
    assert decoded.shape == (4, 28, 28)
    assert decoded.dtype == np.float32
    # White on black again, cell by cell, in order.
    error = np.abs(decoded - digits / 255.0).mean(axis=(1, 2))
    assert (error < 0.03).all(), error
    shuffled = np.abs(decoded - digits[::-1] / 255.0).mean()
    assert shuffled > 0.1


def test_score_counts_challenges_and_digits() -> None:
    answers = np.array([[1, 2, 3, 4], [5, 6, 7, 8], [0, 0, 0, 0]])
    cells = np.zeros((3, 4, 28, 28), np.float32)
    truth = answers.reshape(-1)

    perfect = attack.score("perfect", lambda images: truth, cells, answers)
    assert (perfect.solved, perfect.digits_right) == (3, 12)
    assert perfect.solve_rate == 1.0 and perfect.digit_accuracy == 1.0

    zeros = attack.score("zeros", lambda images: np.zeros(len(images)), cells, answers)
    assert (zeros.solved, zeros.digits_right) == (1, 4)
    assert zeros.solve_rate == pytest.approx(1 / 3)
    assert zeros.per_digit["0"] == 1.0 and zeros.per_digit["5"] == 0.0
    assert "9" not in zeros.per_digit  # never asked

    one_off = truth.copy()
    one_off[5] = 9  # the second challenge's second digit
    near = attack.score("near", lambda images: one_off, cells, answers)
    assert (near.solved, near.digits_right) == (2, 11)


def test_wilson_interval() -> None:
    low, high = attack.wilson_interval(0, 10)
    assert low == 0.0 and high == pytest.approx(0.2775, abs=1e-4)
    low, high = attack.wilson_interval(50, 100)
    assert (low, high) == (
        pytest.approx(0.4038, abs=1e-4),
        pytest.approx(0.5962, abs=1e-4),
    )
    assert attack.wilson_interval(0, 0) == (0.0, 1.0)


@pytest.mark.usefixtures("captcha_models")
@pytest.mark.django_db
# The equal-cells reader is checked here; hardening is meant to defeat it.
@override_settings(GANCAPTCHA_HARDEN=False)
def test_the_command_attacks_real_challenges(tiny_judge: Path, tmp_path: Path) -> None:
    out = io.StringIO()
    report_path = tmp_path / "figures" / "attack.json"
    call_command(
        "captcha_attack",
        count=8,
        judge=tiny_judge,
        reader=tiny_judge,  # stands in for the shipped reader: same interface
        json=report_path,
        stdout=out,
    )
    report = json.loads(report_path.read_text())
    assert report["challenges"] == 8
    assert report["random_guess_rate"] == pytest.approx(1e-4)
    assert [s["name"].split()[0] for s in report["scores"]] == ["judge", "shipped"]
    for figures in report["scores"]:
        assert figures["challenges"] == 8
        assert 0 <= figures["solved"] <= 8
        assert 0 <= figures["digits_right"] <= 32
        assert figures["digit_accuracy"] == pytest.approx(figures["digits_right"] / 32)
        low, high = figures["solve_rate_95"]
        assert low <= figures["solve_rate"] <= high
    # The same judge read the same images twice: the same figures.
    assert report["scores"][0]["solved"] == report["scores"][1]["solved"]
    # Even a one-epoch judge reads far more than chance (10%): the cells are
    # cut and scaled right.
    assert report["scores"][0]["digit_accuracy"] > 0.3
    text = out.getvalue()
    assert "collected 8/8 challenges" in text
    assert "random guess" in text and "0.01%" in text
    assert f"Wrote {report_path}" in text
    # Nothing the attack issued stays live.
    assert not Challenge.objects.exists()


@pytest.mark.usefixtures("captcha_models")
@pytest.mark.django_db
def test_the_command_refuses_a_damaged_judge(tmp_path: Path) -> None:
    judge = tmp_path / "judge.keras"
    judge.write_bytes(b"not a keras file")
    with pytest.raises(CommandError, match="could not load the judge"):
        call_command("captcha_attack", count=1, judge=judge, stdout=io.StringIO())


@pytest.mark.django_db
def test_the_command_refuses_a_zero_count() -> None:
    with pytest.raises(CommandError):
        call_command("captcha_attack", "--count", "0", stdout=io.StringIO())
