"""The blind reading panel: sheets as served, a key kept apart, and the scorer."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from django.core.management import CommandError, call_command

from gancaptcha_field.supply.render import compose_png
from gancaptcha_lab import panel
from tests.conftest import FakeRegistry, _mnist_test_digits


def _challenges(count: int) -> list[panel.Challenge]:
    """Plain MNIST strips as served at scale 2, numbered; every other baited."""
    by_label = _mnist_test_digits()
    out = []
    for number in range(1, count + 1):
        labels = [(number * 3 + k) % 10 for k in range(4)]
        digits = np.stack([by_label[d][number] for d in labels])
        answer = "".join(map(str, labels))
        bait = answer[:2] + "".join(str((int(d) + 1) % 10) for d in answer[2:])
        out.append(
            panel.Challenge(
                number, compose_png(digits, 2), answer, (bait,) if number % 2 else ()
            )
        )
    return out


def _pixels(png: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(png)) as image:
        return np.asarray(image.convert("L"))


def test_each_row_of_a_sheet_is_the_served_png_pixel_for_pixel(
    tmp_path: Path,
) -> None:
    challenges = _challenges(5)
    (sheet,) = panel.write_panel(tmp_path / "p", challenges, 20, {"design": "x"})
    got = np.asarray(Image.open(sheet).convert("L"))
    y = panel.ROW_GAP
    for challenge in challenges:
        served = _pixels(challenge.png)
        h, w = served.shape
        row = got[y : y + h, panel.LABEL_WIDTH : panel.LABEL_WIDTH + w]
        assert np.array_equal(row, served)
        y += h + panel.ROW_GAP


def test_the_key_is_apart_and_the_manifest_holds_no_answer(
    tmp_path: Path,
) -> None:
    challenges = _challenges(45)
    sheets = panel.write_panel(tmp_path / "p", challenges, 20, {"design": "secret"})
    assert [p.name for p in sheets] == ["sheet-01.png", "sheet-02.png", "sheet-03.png"]
    manifest = (tmp_path / "p" / panel.MANIFEST_FILE).read_text()
    assert all(c.answer not in manifest for c in challenges)
    assert json.loads(manifest)["count"] == 45
    key = panel.load_key(tmp_path / "p")
    assert key["challenges"]["3"] == {
        "answer": challenges[2].answer,
        "baits": list(challenges[2].baits),
    }
    assert set(key["sheets"]) == {p.name for p in sheets}
    # A panel is drawn once: its key is never overwritten.
    with pytest.raises(panel.PanelError, match="drawn once"):
        panel.write_panel(tmp_path / "p", challenges, 20, {})


def test_a_key_refuses_sheets_it_was_not_made_for(tmp_path: Path) -> None:
    panel.write_panel(tmp_path / "p", _challenges(4), 20, {})
    Image.new("L", (10, 10), 255).save(tmp_path / "p" / "sheet-01.png")
    with pytest.raises(panel.PanelError, match="not the sheet"):
        panel.load_key(tmp_path / "p")


def test_transcripts_are_read_as_the_field_reads_answers() -> None:
    full_width = "".join(chr(0xFF10 + d) for d in (5, 6, 7, 8))
    text = f"# reader: a test\n1 12 34\n2. ١٢٣٤\n\n3) ?\n4:{full_width}\n"
    transcript = panel.parse_transcript("r", text)
    assert transcript.about == "a test"
    assert transcript.answers == {1: "1234", 2: "1234", 3: "?", 4: "5678"}
    with pytest.raises(panel.PanelError, match="again"):
        panel.parse_transcript("r", "1 1234\n1 1235\n")
    with pytest.raises(panel.PanelError, match="line 1"):
        panel.parse_transcript("r", "one 1234\n")


def test_the_scorer_counts_challenges_digits_misses_and_the_trap(
    tmp_path: Path,
) -> None:
    challenges = _challenges(4)
    panel.write_panel(tmp_path / "p", challenges, 20, {})
    truth = {c.number: c.answer for c in challenges}
    bait = challenges[0].baits[0]  # challenge 1 is baited in its last two places
    lines = [
        f"1 {bait}",  # the bait: two misread digits repeated, springs
        f"2 {truth[2]}",  # right
        f"3 {truth[3][:3]}{(int(truth[3][3]) + 5) % 10}",  # one digit wrong
    ]  # 4: left out
    (tmp_path / "p" / "readers" / "r1.txt").write_text("\n".join(lines))
    report = panel.score_panel(tmp_path / "p")
    (row,) = report["readers"]
    assert (row["attempts"], row["solved"], row["missing"], row["wrong"]) == (
        4,
        1,
        1,
        3,
    )
    assert (row["digits"], row["digits_right"]) == (16, 2 + 4 + 3)
    assert (row["sprang"], row["baited_wrong"]) == (1, 2)
    # The first rule (one repeated digit) springs on the bait too, and on
    # nothing else here: challenge 3 has no bait.
    assert row["sprang_one_digit"] == 1
    assert row["interval_95"] == pytest.approx([0.0456, 0.6994], abs=1e-4)
    assert report["mean_reader_rate"] == report["lowest_reader_rate"] == 0.25
    text = panel.format_report(report)
    assert "| r1 | 1/4 (25.0%)" in text and "| 1/3 wrong | 25.0% | 1/4 |" in text


def test_readers_are_reported_one_by_one_and_pooled(tmp_path: Path) -> None:
    challenges = _challenges(2)
    panel.write_panel(tmp_path / "p", challenges, 20, {})
    readers = tmp_path / "p" / "readers"
    (readers / "a.txt").write_text(
        f"1 {challenges[0].answer}\n2 {challenges[1].answer}"
    )
    (readers / "b.txt").write_text(f"1 {challenges[0].answer}\n2 0000")
    report = panel.score_panel(tmp_path / "p")
    assert [r["solved"] for r in report["readers"]] == [2, 1]
    assert (report["all"]["attempts"], report["all"]["solved"]) == (4, 3)
    assert report["mean_reader_rate"] == 0.75
    assert report["lowest_reader_rate"] == 0.5


def test_a_transcript_naming_a_challenge_the_key_lacks_is_an_error(
    tmp_path: Path,
) -> None:
    panel.write_panel(tmp_path / "p", _challenges(2), 20, {})
    (tmp_path / "p" / "readers" / "a.txt").write_text("7 1234\n")
    with pytest.raises(panel.PanelError, match="numbered 7"):
        panel.score_panel(tmp_path / "p")


@pytest.mark.django_db
def test_the_command_draws_from_the_sites_pipeline_and_scores(
    tmp_path: Path, fake_registry: FakeRegistry, capsys: Any
) -> None:
    out = tmp_path / "p"
    call_command("captcha_panel", "draw", str(out), "--count", "3", "--design", "t")
    key = panel.load_key(out)
    answers = [key["challenges"][str(n)]["answer"] for n in (1, 2, 3)]
    # The digits of the answers are what the registry was asked to draw.
    assert fake_registry.drawn == [int(c) for a in answers for c in a]
    manifest = json.loads((out / panel.MANIFEST_FILE).read_text())
    assert manifest["harden"] is False and manifest["layout"] == "plain"
    wrong = "".join(str((int(d) + 1) % 10) for d in answers[2])
    (out / "readers" / "r.txt").write_text(
        f"1 {answers[0]}\n2 {answers[1]}\n3 {wrong}\n"
    )
    call_command("captcha_panel", "score", str(out), "--json", str(tmp_path / "s.json"))
    assert "| r | 2/3 (66.7%)" in capsys.readouterr().out
    assert json.loads((tmp_path / "s.json").read_text())["all"]["solved"] == 2
    with pytest.raises(CommandError, match="drawn once"):
        call_command("captcha_panel", "draw", str(out), "--count", "1")
    with pytest.raises(CommandError, match=r"no key\.json"):
        call_command("captcha_panel", "score", str(tmp_path / "none"))


def _panel(tmp_path: Path, count: int = 2) -> Path:
    panel.write_panel(tmp_path / "p", _challenges(count), 20, {})
    return tmp_path / "p"


@pytest.mark.parametrize(
    "key",
    [
        [],
        {"schema": 2, "sheets": {}, "challenges": {}},
        {"schema": 1, "sheets": ["sheet-01.png"], "challenges": {}},
        {"schema": 1, "sheets": {"sheet-01.png": "x"}, "challenges": {}},
        {"schema": 1, "sheets": {"sheet-01.png": "x"}, "challenges": {"1": "1234"}},
        {"schema": 1, "sheets": {"s": "x"}, "challenges": {"x": {"answer": "1"}}},
        {
            "schema": 1,
            "sheets": {"s": "x"},
            "challenges": {"1": {"answer": 1234, "baits": []}},
        },
    ],
)
def test_a_malformed_key_is_a_clear_error(tmp_path: Path, key: object) -> None:
    out = _panel(tmp_path)
    (out / panel.KEY_FILE).write_text(json.dumps(key))
    with pytest.raises(panel.PanelError, match="not a panel's key"):
        panel.score_panel(out)
    (out / panel.KEY_FILE).write_bytes(b"\xff{")
    with pytest.raises(panel.PanelError, match="unreadable"):
        panel.score_panel(out)


def test_unreadable_transcripts_and_stray_sheets_are_clear_errors(
    tmp_path: Path,
) -> None:
    out = _panel(tmp_path)
    (out / "readers" / "a.txt").write_bytes(b"1 \xff\xfe\n")
    with pytest.raises(panel.PanelError, match="unreadable"):
        panel.score_panel(out)
    (out / "readers" / "a.txt").write_text("1" * 12 + " 1234\n")
    with pytest.raises(panel.PanelError, match="line 1"):
        panel.score_panel(out)
    (out / "readers" / "a.txt").unlink()
    (out / "readers" / "b.txt").mkdir()
    with pytest.raises(panel.PanelError, match="unreadable"):
        panel.score_panel(out)
    (out / "readers" / "b.txt").rmdir()
    # A sheet the key does not list (left by another draw) is never scored.
    Image.new("L", (4, 4), 255).save(out / "sheet-09.png")
    with pytest.raises(panel.PanelError, match="does not list"):
        panel.load_key(out)


def test_a_panel_is_drawn_only_into_a_new_or_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(panel.PanelError, match="not a directory"):
        panel.write_panel(tmp_path / "file", _challenges(1), 20, {})
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "sheet-02.png").write_bytes(b"")
    with pytest.raises(panel.PanelError, match="not empty"):
        panel.write_panel(tmp_path / "old", _challenges(1), 20, {})
    assert sorted(p.name for p in (tmp_path / "old").iterdir()) == ["sheet-02.png"]
    (tmp_path / "empty").mkdir()
    panel.write_panel(tmp_path / "empty", _challenges(1), 20, {})
    assert (tmp_path / "empty" / panel.KEY_FILE).is_file()


@pytest.mark.django_db
def test_the_command_refuses_before_drawing_and_reports_write_errors(
    tmp_path: Path, fake_registry: FakeRegistry
) -> None:
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "x").write_text("")
    with pytest.raises(CommandError, match="not empty"):
        call_command("captcha_panel", "draw", str(tmp_path / "used"), "--count", "2")
    assert fake_registry.drawn == []  # refused before a digit was drawn
    out = _panel(tmp_path)
    (out / "readers" / "r.txt").write_text("1 0000\n")
    with pytest.raises(CommandError, match="Could not write"):
        call_command(
            "captcha_panel",
            "score",
            str(out),
            "--json",
            str(tmp_path / "no" / "s.json"),
        )
