"""The audio attacker trained on our own renderer: its wiring, on a tiny model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gancaptcha_field import audio
from gancaptcha_field.lab import audio as lab_audio
from gancaptcha_field.lab import recogniser


def test_features_are_one_shape_whatever_the_level() -> None:
    wav = audio.render_wav("4071", "en", np.random.default_rng(3))
    signal = lab_audio.decode_wav(wav)
    spec = recogniser.features(signal)
    assert spec.shape == (698, 40) and spec.dtype == np.float32
    # The served level is random: a quieter copy gives the same picture.
    assert np.allclose(recogniser.features(signal * 0.25), spec, atol=0.05)


@pytest.mark.parametrize(
    ("name", "count"),
    [
        ("trained-1000", 1000),
        ("trained-100", 100),
        ("trained-99", None),
        ("trained-", None),
        ("trained-1e3", None),
        ("ncc", None),
    ],
)
def test_trained_attacker_names(name: str, count: int | None) -> None:
    assert lab_audio.trained_count(name) == count


def test_unknown_attackers_are_refused() -> None:
    config = lab_audio.AudioAttackConfig(count=1, attackers=("trained-5",))
    with pytest.raises(lab_audio.AudioAttackError, match="trained-N"):
        lab_audio.run(config, lambda _: None)


@pytest.mark.django_db
def test_a_tiny_recogniser_answers_served_audio_through_the_form(
    tmp_path: Path, captcha_models: None
) -> None:
    logged: list[str] = []
    model = recogniser.load_or_train("en", 100, tmp_path, logged.append, epochs=1)
    assert any("held-out digit accuracy" in line for line in logged)
    # Trained once: the second call reads the cache.
    recogniser.load_or_train("en", 100, tmp_path, logged.append, epochs=1)
    assert "cached" in logged[-1]
    tally = lab_audio.Tally("trained-100", "en", "served")
    lab_audio.attack_served(recogniser.RecogniserSolver(model), tally, 2, print)
    assert tally.attempts == 2
    assert 0 <= tally.digits_right <= 8


def test_ctc_decoding_collapses_repeats_and_drops_blanks() -> None:
    # Frames: blank, 4, 4, blank, 0, blank, 7, 7, 1 (labels are digits + 1).
    labels = [0, 5, 5, 0, 1, 0, 8, 8, 2]
    logits = np.eye(11)[labels][None]
    assert recogniser.decode(logits) == ["4071"]
    # Too few digits are padded, too many cut: always a four-digit guess.
    assert recogniser.decode(np.eye(11)[[0, 3, 0]][None]) == ["2000"]
    assert recogniser.decode(np.eye(11)[[1, 0, 2, 0, 3, 0, 4, 0, 5]][None]) == ["0123"]
