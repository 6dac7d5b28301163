"""The audio attackers that can hear: the trained recogniser and PocketSphinx."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from gancaptcha_field import audio
from gancaptcha_lab import audio as lab_audio
from gancaptcha_lab import recogniser


def test_features_are_one_shape_whatever_the_level() -> None:
    wav = audio.render_wav("4071", "en", np.random.default_rng(3))
    signal = recogniser.read_wav(wav)
    assert np.array_equal(signal, lab_audio.decode_wav(wav))
    spec = recogniser.features(signal)
    assert spec.shape == (recogniser.frame_count(), recogniser.BANDS) == (349, 40)
    assert spec.dtype == np.float32
    # The served level is random: a quieter copy gives the same picture.
    assert np.allclose(recogniser.features(signal * 0.25), spec, atol=0.05)


def test_frame_labels_cover_each_digit_where_it_is_spoken() -> None:
    drawn = audio.plan("4071", "en", np.random.default_rng(5))
    labels = recogniser.frame_labels(drawn)
    assert labels.shape == (recogniser.frame_count(),)
    # Read left to right, the labelled runs are the answer.
    runs = [int(v) - 1 for i, v in enumerate(labels) if v and v != labels[i - 1]]
    assert runs == [4, 0, 7, 1]
    speech, _, _ = audio.tracks(drawn)
    for voicing in drawn.digits:
        # The label's span is the rendered clip's span, to the sample.
        length = recogniser.spoken_length("en", voicing)
        assert length == audio.voice_clip("en", voicing).size
        frames = np.flatnonzero(labels == voicing.item + 1)
        centres = frames * recogniser.HOP + recogniser.FFT // 2
        assert centres.min() >= voicing.start
        assert centres.max() < voicing.start + length
    # Nearly all the digits' energy lies in labelled frames.
    centres = np.arange(labels.size) * recogniser.HOP + recogniser.FFT // 2
    inside = np.repeat(labels > 0, recogniser.HOP)[: speech.size]
    inside = np.pad(inside, (0, speech.size - inside.size))
    offset = recogniser.FFT // 2 - recogniser.HOP // 2
    inside = np.roll(inside, offset)
    assert centres.size == labels.size
    assert np.sum(speech[inside] ** 2) > 0.9 * np.sum(speech**2)


def test_step_labels_follow_the_models_output_rate() -> None:
    labels = np.arange(10, dtype=np.int8)[None].repeat(2, 0)
    assert recogniser.step_labels(labels).tolist() == [[0, 2, 4, 6, 8]] * 2
    model = recogniser.build(recogniser.frame_count())
    assert model.output_shape == (None, recogniser.frame_count() // 2, 11)


def _logits(classes: list[int]) -> np.ndarray:
    return np.eye(recogniser.CLASSES)[classes][None] * 5.0


def test_the_decoder_reads_exactly_four_digits_from_frame_logits() -> None:
    gap, four, zero, seven, one = 0, 5, 1, 8, 2
    frames = [gap] * 3 + [four] * 4 + [gap] * 2 + [zero] * 3 + [gap]
    frames += [seven] * 3 + [gap] * 2 + [one] * 4 + [gap] * 3
    assert recogniser.decode(_logits(frames)) == ["4071"]
    # A digit said twice is two segments with a gap between.
    twice = [gap, four, four, gap, four, four, gap, zero, zero, gap, one, one, gap]
    assert recogniser.decode(_logits(twice)) == ["4401"]
    # Five confident segments: the weakest (one frame) is left out.
    five = [four, four, gap, zero, zero, gap, seven, gap, seven, seven, gap, one, one]
    assert recogniser.decode(_logits(five)) == ["4071"]
    # Three segments: one is split to make four (a guess is a guess).
    three = [gap, four, four, four, four, gap, zero, zero, gap, one, one, gap]
    guess = recogniser.decode(_logits(three))[0]
    assert guess in {"4401", "4001", "4011"}


def test_accuracy_counts_digits_and_files() -> None:
    assert recogniser.digit_accuracy(["4071", "1234"], ["4071", "1299"]) == (
        0.75,
        0.5,
    )


def test_the_training_budget_gives_fixed_epochs() -> None:
    assert recogniser.epochs_for(1_000) == 30
    assert recogniser.epochs_for(10_000) == 3
    assert recogniser.epochs_for(30_000) == 2
    assert recogniser.epochs_for(100_000) == 2


def test_renders_are_cached_in_chunks_and_nested(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(recogniser, "CHUNK", 3)
    logged: list[str] = []
    small = recogniser.render_set("en", 3, 1, tmp_path, logged.append, workers=1)
    large = recogniser.render_set("en", 5, 1, tmp_path, logged.append, workers=1)
    assert len(small) == 3 and len(large) == 5
    assert large.x.dtype == np.float16 and large.x.shape[1:] == (349, 40)
    # The set of 3 is the start of the set of 5: the curve's points are nested.
    assert np.array_equal(large.x[:3], small.x)
    assert np.array_equal(large.answers[:3], small.answers)
    # Each render's labels spell its answer.
    for answer, labels in zip(large.answers, large.labels, strict=True):
        runs = [int(v) - 1 for i, v in enumerate(labels) if v and v != labels[i - 1]]
        assert runs == answer.tolist()
    rendered = [line for line in logged if "rendering" in line]
    assert rendered == [
        "recogniser en: rendering 3 files (1 workers)",
        "recogniser en: rendering 3 files (1 workers)",
    ]


@pytest.mark.parametrize(
    ("name", "count"),
    [
        ("trained-1000", 1000),
        ("trained-100", 100),
        ("trained-99", None),
        ("trained-", None),
        ("trained-1e3", None),
        ("ncc", None),
        ("pocketsphinx", None),
    ],
)
def test_trained_attacker_names(name: str, count: int | None) -> None:
    assert lab_audio.trained_count(name) == count


def test_unknown_attackers_are_refused() -> None:
    config = lab_audio.AudioAttackConfig(count=1, attackers=("trained-5",))
    with pytest.raises(lab_audio.AudioAttackError, match="trained-N"):
        lab_audio.run(config, lambda _: None)


@pytest.mark.slow
@pytest.mark.django_db
def test_a_tiny_recogniser_answers_served_audio_through_the_form(
    tmp_path: Path, captcha_models: None
) -> None:
    logged: list[str] = []
    trained = recogniser.load_or_train(
        "en", 8, tmp_path, logged.append, epochs=1, validation=4, workers=1
    )
    assert trained.count == 8 and trained.epochs == 1
    assert 0.0 <= trained.held_out_digits <= 1.0
    assert any("held-out digit accuracy" in line for line in logged)
    # Trained once: the second call reads the cache, figures included.
    again = recogniser.load_or_train(
        "en", 8, tmp_path, logged.append, epochs=1, validation=4, workers=1
    )
    assert "cached" in logged[-1]
    assert again.held_out_digits == trained.held_out_digits
    solver = recogniser.RecogniserSolver(again.model, again)
    assert solver.notes["renders"] == 8
    tally = lab_audio.Tally("trained-8", "en", "served")
    lab_audio.attack_served(solver, tally, 2, lambda _: None)
    assert tally.attempts == 2
    assert 0 <= tally.digits_right <= 8


# ---------------------------------------------------------------- pocketsphinx


def test_the_grammar_is_four_spoken_digits() -> None:
    grammar = lab_audio.digit_grammar()
    assert "public <answer> = <digit> <digit> <digit> <digit>;" in grammar
    assert "oh" in grammar and "nine" in grammar


@pytest.mark.parametrize(
    ("words", "answer"),
    [
        ("four oh seven one", "4071"),
        ("FOUR zero seven one", "4071"),
        ("two nine", "2900"),
        ("one two three four five", "1234"),
        ("", "0000"),
        ("<sil> eight [noise] eight", "8800"),
    ],
)
def test_words_become_an_answer(words: str, answer: str) -> None:
    assert lab_audio.spoken_to_digits(words) == answer


def test_pocketsphinx_missing_says_how_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "pocketsphinx", None)
    with pytest.raises(lab_audio.AudioAttackError, match="requirements-bench"):
        lab_audio.make_solver("pocketsphinx", "en")


def test_pocketsphinx_has_no_spanish() -> None:
    with pytest.raises(lab_audio.AudioAttackError, match="en-US"):
        lab_audio.PocketSphinxSolver("es")


def test_pocketsphinx_reads_clean_clips() -> None:
    pytest.importorskip("pocketsphinx")
    solver = lab_audio.make_solver("pocketsphinx", "en")
    tally = lab_audio.Tally("pocketsphinx", "en", "clean clips")
    lab_audio.attack_offline(solver, tally, 3, lab_audio.render_clean_clips)
    assert tally.attempts == 3
    # It hears the bare clips (chance would be 1.2 digits of 12; seeded).
    assert tally.digits_right >= 3


@pytest.mark.django_db
def test_pocketsphinx_plays_through_the_site_and_skips_spanish(
    captcha_models: None,
) -> None:
    pytest.importorskip("pocketsphinx")
    logged: list[str] = []
    config = lab_audio.AudioAttackConfig(
        count=2,
        attackers=("pocketsphinx",),
        languages=("en", "es"),
        baseline=False,
        clean=True,
    )
    report = lab_audio.run(config, logged.append)
    routes = [(s["language"], s["route"]) for s in report["scores"]]
    assert routes == [("en", "served"), ("en", "clean digits"), ("en", "clean clips")]
    assert all(s["attempts"] == 2 for s in report["scores"])
    assert "pocketsphinx es: no model for this language, skipped" in logged
    low, high = report["scores"][0]["digit_accuracy_95"]
    assert 0.0 <= low <= report["scores"][0]["digit_accuracy"] <= high <= 1.0
