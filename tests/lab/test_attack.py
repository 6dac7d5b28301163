"""The attacker lab: cutting PNGs, the interval, and the battery through the form."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from django.core.management import CommandError, call_command

from gancaptcha_field import constants
from gancaptcha_field.models import Challenge
from gancaptcha_field.supply.render import compose_png
from gancaptcha_lab import attack, bank, vision

ROOT = Path(__file__).resolve().parents[2]
MNIST = ROOT / "ml_models" / constants.BUNDLED_DATA_FILE


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    """40 MNIST test digits (uint8, white on black) and their labels."""
    with np.load(MNIST) as data:
        return data["x_test"][:40], data["y_test"][:40]


def _strip(parts: list[np.ndarray], gaps: list[int]) -> bytes:
    """Digits side by side with chosen gaps (negative: overlap), dark on light."""
    height = constants.IMAGE_SIZE
    width = sum(p.shape[1] for p in parts) + sum(gaps) + 8
    canvas = np.zeros((height, width), np.float32)
    x = 4
    for i, part in enumerate(parts):
        canvas[:, x : x + part.shape[1]] = np.maximum(
            canvas[:, x : x + part.shape[1]], part / 255.0
        )
        x += part.shape[1] + (gaps[i] if i < len(gaps) else 0)
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray((255 - canvas * 255).astype(np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


def _tight(digit: np.ndarray) -> np.ndarray:
    columns = np.flatnonzero(digit.max(axis=0) > 0)
    return digit[:, columns[0] : columns[-1] + 1]


def test_wilson_interval() -> None:
    low, high = attack.wilson_interval(0, 10)
    assert low == 0.0 and high == pytest.approx(0.2775, abs=1e-4)
    low, high = attack.wilson_interval(50, 100)
    assert (low, high) == (
        pytest.approx(0.4038, abs=1e-4),
        pytest.approx(0.5962, abs=1e-4),
    )
    low, high = attack.wilson_interval(100, 100)
    assert high == pytest.approx(1.0) and low == pytest.approx(0.9630, abs=1e-4)
    assert attack.wilson_interval(0, 0) == (0.0, 1.0)


@pytest.mark.parametrize("segmentation", sorted(vision.SEGMENTATIONS))
@pytest.mark.parametrize("preprocessing", sorted(vision.PREPROCESSING))
def test_every_combination_gives_four_centred_digits(
    digits: tuple[np.ndarray, np.ndarray], preprocessing: str, segmentation: str
) -> None:
    # Uneven gaps and a width that is no multiple of 28.
    png = _strip([_tight(d) for d in digits[0][:4]], [3, 11, 6])
    out = vision.cut(png, preprocessing, segmentation)
    assert out.shape == (4, 28, 28) and out.dtype == np.float32
    assert 0.0 <= out.min() and out.max() <= 1.0
    assert (out.sum(axis=(1, 2)) > 0).all()  # no empty piece


@pytest.mark.parametrize("segmentation", ["components", "projection"])
def test_gap_finding_segmentations_cut_at_the_gaps(
    digits: tuple[np.ndarray, np.ndarray], segmentation: str
) -> None:
    parts = [_tight(d) for d in digits[0][4:8]]
    png = _strip(parts, [6, 14, 8])
    pieces = vision.SEGMENTATIONS[segmentation](vision.decode(png))
    assert len(pieces) == 4
    # Each piece holds exactly the ink of its digit, in order.
    for piece, part in zip(pieces, parts, strict=True):
        assert piece.sum() == pytest.approx(part.sum() / 255.0, rel=0.02)


def test_components_split_touching_digits(
    digits: tuple[np.ndarray, np.ndarray],
) -> None:
    parts = [_tight(d) for d in digits[0][12:16]]
    # The middle two overlap by 4 columns: one blob, which must be cut in two.
    png = _strip(parts, [6, -4, 6])
    image = vision.decode(png)
    _, count = vision.label_components(image > vision.INK)
    assert count < 4  # they do touch
    pieces = vision.SEGMENTATIONS["components"](image)
    assert len(pieces) == 4
    starts = [4]
    for part, gap in zip(parts[:-1], [6, -4, 6], strict=True):
        starts.append(starts[-1] + part.shape[1] + gap)
    centres = []
    for piece in pieces:
        columns = np.flatnonzero(piece.max(axis=0) > 0)
        centres.append((columns[0] + columns[-1]) / 2)
    for centre, start, part in zip(centres, starts, parts, strict=True):
        assert start - 2 <= centre <= start + part.shape[1] + 2


def test_an_equal_cut_of_a_served_strip_recovers_the_digits(
    digits: tuple[np.ndarray, np.ndarray],
) -> None:
    out = vision.cut(compose_png(digits[0][:4], 2), "none", "equal")
    for mine, theirs in zip(out, digits[0][:4] / 255.0, strict=True):
        assert np.corrcoef(mine.ravel(), theirs.ravel())[0, 1] > 0.8


def test_mnist_centre_fits_20px_and_centres_the_mass() -> None:
    piece = np.zeros((50, 90), np.float32)
    piece[5:45, 60:70] = 1.0  # a tall bar far right
    out = vision.mnist_centre(piece)
    rows = np.flatnonzero(out.max(axis=1) > 0.05)
    assert rows[-1] - rows[0] + 1 <= 20
    ys, xs = np.indices(out.shape)
    assert (ys * out).sum() / out.sum() == pytest.approx(14.0, abs=0.6)
    assert (xs * out).sum() / out.sum() == pytest.approx(14.0, abs=0.6)
    assert not vision.mnist_centre(np.zeros((10, 10), np.float32)).any()


def _bank(directory: Path, digits: tuple[np.ndarray, np.ndarray], n: int) -> None:
    """A bank of MNIST challenges (labels known) laid out as served."""
    images, labels = digits
    pngs, answers = [], []
    for i in range(n):
        block = [(i * 4 + j) % len(labels) for j in range(4)]
        pngs.append(compose_png(images[block], 2))
        answers.append("".join(str(int(labels[k])) for k in block))
    assert "0000" not in answers
    bank.append(directory, pngs, answers)


def _battery(
    tmp_path: Path, challenges: int, calibration: int, **options: Any
) -> attack.BatteryConfig:
    """A battery on the bank in ``tmp_path / "bank"``, no adaptive attacker."""
    return attack.BatteryConfig(
        cache_dir=tmp_path,
        mnist_path=MNIST,
        challenges=challenges,
        calibration=calibration,
        adaptive=(),
        bank_dir=tmp_path / "bank",
        **options,
    )


class Oracle:
    """Knows every answer: looks the served PNG up by its bytes."""

    def __init__(self, directory: Path) -> None:
        pngs, answers, _ = bank.load(directory)
        self.answers = dict(zip(pngs, answers, strict=True))

    def solve(self, pngs: Any) -> list[str]:
        return [self.answers[p] for p in pngs]


class OneOff(Oracle):
    """Knows every answer and gets the last digit wrong by ``shift``."""

    def __init__(self, directory: Path, shift: int) -> None:
        super().__init__(directory)
        self.shift = shift

    def solve(self, pngs: Any) -> list[str]:
        return [a[:3] + str((int(a[3]) + self.shift) % 10) for a in super().solve(pngs)]


class Constant:
    def solve(self, pngs: Any) -> list[str]:
        return ["0000" for _ in pngs]


@pytest.mark.django_db
def test_the_site_decides_an_oracle_wins_and_a_constant_loses(
    digits: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    _bank(tmp_path / "bank", digits, 10)
    config = _battery(tmp_path, 8, 2, json_path=tmp_path / "out" / "report.json")
    report = attack.run(
        config,
        lambda _: None,
        solvers={"oracle": Oracle(tmp_path / "bank"), "constant": Constant()},
    )
    on_disk = json.loads((tmp_path / "out" / "report.json").read_text())
    assert on_disk == report
    rows = {r["name"]: r for r in report["rows"]}
    assert rows["oracle"]["solved"] == rows["oracle"]["attempts"] == 8
    assert rows["oracle"]["solve_rate"] == 1.0
    assert rows["oracle"]["digit_accuracy"] == 1.0
    assert rows["constant"]["solved"] == 0 and rows["constant"]["attempts"] == 8
    assert rows["constant"]["cpu_s_per_success"] is None
    assert rows["proof-of-work (native solver)"]["status"] == "not enabled"
    assert rows["audio attacker"]["status"] == "not run"
    # Every served key was used up by its one submission.
    assert not Challenge.objects.exists()


@pytest.mark.django_db
def test_a_wrong_answer_fails_even_when_the_lab_knows_better(
    digits: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    # One digit off on every challenge: the site, not the label, decides.
    _bank(tmp_path / "bank", digits, 5)
    config = _battery(tmp_path, 4, 1)
    report = attack.run(
        config, lambda _: None, solvers={"off": OneOff(tmp_path / "bank", 1)}
    )
    (row, *_) = report["rows"]
    assert (row["solved"], row["digits_right"]) == (0, 12)


@pytest.mark.django_db
def test_the_lab_counts_the_answers_that_spring_the_sites_trap(
    digits: tuple[np.ndarray, np.ndarray], tmp_path: Path, settings: Any
) -> None:
    """A bank drawn with GANCAPTCHA_TRAP keeps each challenge's bait; the site
    serves it with the challenge, and the table counts the bot signals its
    verification sends (signals.trap_sprung), not the lab's own guess."""
    settings.GANCAPTCHA_TRAP = True
    images, labels = digits
    pngs, answers, baits = [], [], []
    for i in range(6):
        block = [(i * 4 + j) % len(labels) for j in range(4)]
        pngs.append(compose_png(images[block], 2))
        answer = "".join(str(int(labels[k])) for k in block)
        answers.append(answer)
        # Odd challenges baited: the stock reading misread the last two digits.
        misread = "".join(str((int(d) + 1) % 10) for d in answer[2:])
        baits.append((answer[:2] + misread,) if i % 2 else ())
    bank.append(tmp_path / "bank", pngs, answers, baits)
    assert bank.load(tmp_path / "bank") == (pngs, answers, baits)
    bait_of = dict(zip(pngs, baits, strict=True))
    answer_of = dict(zip(pngs, answers, strict=True))

    class Stock:  # answers the bait where there is one, else the truth
        def solve(self, served: Any) -> list[str]:
            return [bait_of[p][0] if bait_of[p] else answer_of[p] for p in served]

    config = _battery(tmp_path, 4, 2)
    report = attack.run(
        config,
        lambda _: None,
        # Wrong in the bait's place, but not as the bait is.
        solvers={"stock": Stock(), "off": OneOff(tmp_path / "bank", 2)},
    )
    rows = {r["name"]: r for r in report["rows"]}
    # Test challenges 2-5: 3 and 5 are baited.
    assert report["baited"] == 0.5
    # 2 of the 4 test challenges have one bait, misread in two places: of a
    # challenge's 6 x 81 two-digit slips, the one that types the bait springs.
    assert report["slip_springs"] == pytest.approx(2 / (4 * 6 * 81))
    assert (rows["stock"]["solved"], rows["stock"]["trapped"]) == (2, 2)
    assert rows["stock"]["trapped_of_failures"] == 1.0
    assert (rows["off"]["solved"], rows["off"]["trapped"]) == (0, 0)
    text = attack.format_table(report)
    assert "trapped/failed" in text and "50% of the test challenges baited" in text
    markdown = attack.format_markdown(report)
    assert "| 2/2 |" in markdown
    # At 10 failures a minute and a penalty of 4, "stock" fails half its
    # answers, every one trapped: 0.5 + 4 * 0.5 = 2.5 counted per attempt, so
    # 4 attempts and 2 solves a minute; untrapped, 20 attempts and 10 solves.
    per = report["per_client"]
    assert (per["fail_per_minute"], per["penalty"]) == (10, 4)
    assert per["stock"] == {"solves_trap": 2.0, "solves_no_trap": 10.0}
    assert "| stock | 2.0 | 10.0 |" in markdown


@pytest.mark.django_db
def test_the_pow_slot_says_whether_it_is_enabled(settings: Any) -> None:
    assert attack.pow_row().status == "not enabled"
    settings.GANCAPTCHA_POW = {"answers": True}
    row = attack.pow_row()
    assert row.status in {"not run", "ran"}


@pytest.mark.usefixtures("captcha_models")
@pytest.mark.django_db
def test_the_quick_battery_prints_one_table(
    digits: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    _bank(tmp_path / "bank", digits, 12)  # 4 calibration, 4 test, 4 to train on
    out = io.StringIO()
    call_command(
        "captcha_attack",
        "--quick",
        "--challenges=4",
        "--calibration=4",
        "--adaptive=2,4,9",
        "--self-labelled=8",
        f"--cache-dir={tmp_path / 'cache'}",
        f"--bank-dir={tmp_path / 'bank'}",
        f"--json={tmp_path / 'report.json'}",
        stdout=out,
    )
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["schema"] == attack.SCHEMA_VERSION
    assert report["test_challenges"] == 4
    kinds = [r["kind"] for r in report["rows"]]
    assert kinds == [
        "stock",
        "stock",
        "stock",
        "robust",
        "shipped",
        "adaptive",
        "adaptive",
        "adaptive",
        "self-labelling",
        "pow",
        "audio",
    ]
    for row in report["rows"]:
        if row["status"] != "ran":
            continue
        assert row["attempts"] == 4 and 0 <= row["solved"] <= 4
        low, high = row["interval_95"]
        assert low <= row["solve_rate"] <= high
        assert row["cpu_s_per_attempt"] > 0
        pre, seg = row["combination"].split("+")
        assert pre in vision.PREPROCESSING and seg in vision.SEGMENTATIONS
    adaptive = [r for r in report["rows"] if r["kind"] == "adaptive"]
    # The bank held 12; the 9 labels asked for were drawn with the site's
    # pipeline (4 + 4 + 9 = 17), so every adaptive row ran.
    assert [r["status"] for r in adaptive] == ["ran", "ran", "ran"]
    assert [p["labels"] for p in report["adaptive_curve"]] == [0, 2, 4, 9]
    assert bank.size(tmp_path / "bank") == 17
    text = out.getvalue()
    assert "CPU-s/attempt" in text and "best combination" in text
    assert "not enabled" in text
    # The attacker models were cached outside the serving model directory.
    cached = sorted(p.name for p in (tmp_path / "cache" / "models").glob("*.keras"))
    assert len(cached) == 4
    assert not Challenge.objects.exists()


@pytest.mark.django_db
def test_the_command_refuses_bad_counts() -> None:
    with pytest.raises(CommandError):
        call_command("captcha_attack", "--challenges", "0", stdout=io.StringIO())
    with pytest.raises(CommandError):
        call_command("captcha_attack", "--adaptive", "25,x", stdout=io.StringIO())
