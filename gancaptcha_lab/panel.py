"""The blind reading panel: numbered sheets out, transcriptions in, rates out.

Library code for ``manage.py captcha_panel``. ``draw`` makes N challenges with
the site's own pipeline (``render.render_answers``, the function the issuer
calls, so the configured layout, scale and trap all apply) and writes:

- ``sheet-01.png`` ...: numbered rows, each the 1x PNG exactly as the image
  view serves it, pasted pixel for pixel on white, as a browser at 1x shows it;
- ``key.json``: the answers and baits, kept apart from the sheets (readers
  never see it), with the SHA-256 of every sheet, so a key and its sheets
  cannot be mixed up;
- ``manifest.json``: what was drawn (settings, models, date), no answers.

A reader writes ``readers/<name>.txt``: ``<number> <answer>`` per line, lines
starting with ``#`` say who read (``# reader: ...``). ``score`` prints per
reader and in all: challenges and digits right with Wilson 95% intervals, and
how often a wrong answer sprang the trap. See docs/panel.md for the protocol.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from gancaptcha_field import artifacts
from gancaptcha_field.artifacts import atomic_path
from gancaptcha_field.challenges import normalise_answer, springs
from gancaptcha_lab.attack import wilson_interval

KEY_FILE = "key.json"
MANIFEST_FILE = "manifest.json"
READERS_DIR = "readers"
SCHEMA_VERSION = 1
ROW_GAP = 16  # white pixels between rows, so neighbours never touch
LABEL_WIDTH = 44  # the left margin that holds each row's number
Log = Callable[[str], None]


class PanelError(Exception):
    """The panel could not draw or score; the message says why."""


@dataclass(frozen=True)
class Challenge:
    """One numbered challenge of a panel: its served PNG and what it keys."""

    number: int
    png: bytes
    answer: str
    baits: tuple[str, ...] = ()


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size)
    except (TypeError, ImportError, OSError):  # no FreeType: the bitmap font
        return ImageFont.load_default()


def sheet_image(challenges: Sequence[Challenge]) -> Image.Image:
    """Numbered rows of served PNGs, each at its own pixel size, on white."""
    images = [Image.open(io.BytesIO(c.png)).convert("L") for c in challenges]
    width = LABEL_WIDTH + max(image.width for image in images) + ROW_GAP
    height = sum(image.height + ROW_GAP for image in images) + ROW_GAP
    sheet = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(sheet)
    font = _font(16)
    y = ROW_GAP
    for challenge, image in zip(challenges, images, strict=True):
        sheet.paste(image, (LABEL_WIDTH, y))
        draw.text(
            (6, y + image.height // 2),
            f"{challenge.number}.",
            fill=0,
            font=font,
            anchor="lm",
        )
        y += image.height + ROW_GAP
    return sheet


def draw_challenges(count: int) -> list[Challenge]:
    """``count`` challenges from the site's pipeline, numbered from 1."""
    from gancaptcha_field.supply.answers import new_answer
    from gancaptcha_field.supply.render import render_answers

    answers = [new_answer() for _ in range(count)]
    rendered = []
    for start in range(0, count, 64):  # the registry draws in batches anyway
        rendered.extend(render_answers(answers[start : start + 64]))
    return [
        Challenge(i + 1, r.png, r.answer, tuple(r.baits))
        for i, r in enumerate(rendered)
    ]


def check_new(out: Path) -> None:
    """Refuse anything but a new or empty directory: a panel is drawn once,
    and no sheet or transcript of another may sit beside its key."""
    if out.exists() and not out.is_dir():
        raise PanelError(f"{out} is not a directory")
    if out.is_dir() and any(out.iterdir()):
        raise PanelError(f"{out} is not empty; a panel is drawn once, into a new one")


def write_panel(
    out: Path, challenges: Sequence[Challenge], per_sheet: int, about: dict[str, Any]
) -> list[Path]:
    """Write the sheets, the manifest and, last, the key to a new ``out``;
    return the sheets. A directory without a key is an unfinished panel."""
    if per_sheet < 1:
        raise PanelError("per_sheet must be at least 1")
    check_new(out)
    try:
        return _write_panel(out, challenges, per_sheet, about)
    except OSError as exc:
        raise PanelError(f"could not write the panel to {out}: {exc}") from None


def _write_panel(
    out: Path, challenges: Sequence[Challenge], per_sheet: int, about: dict[str, Any]
) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    (out / READERS_DIR).mkdir(exist_ok=True)
    sheets = []
    for index, start in enumerate(range(0, len(challenges), per_sheet), 1):
        path = out / f"sheet-{index:02d}.png"
        with atomic_path(path) as tmp:
            sheet_image(challenges[start : start + per_sheet]).save(tmp)
        sheets.append(path)
    artifacts.write_json(
        out / MANIFEST_FILE,
        {
            "schema": SCHEMA_VERSION,
            "drawn_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "count": len(challenges),
            "per_sheet": per_sheet,
            "sheets": [p.name for p in sheets],
            **about,
        },
    )
    # Last: a directory with a key is a whole panel.
    artifacts.write_json(
        out / KEY_FILE,
        {
            "schema": SCHEMA_VERSION,
            "sheets": {p.name: artifacts.sha256(p) for p in sheets},
            "challenges": {
                str(c.number): {"answer": c.answer, "baits": list(c.baits)}
                for c in challenges
            },
        },
    )
    return sheets


# --- scoring ---------------------------------------------------------------

_LINE = re.compile(r"^\s*(\d{1,9})(?:[.):]\s*|\s+)(.*?)\s*$")


@dataclass
class Transcript:
    """One reader's answers by challenge number, and who the reader was."""

    name: str
    about: str
    answers: dict[int, str] = field(default_factory=dict)


def parse_transcript(name: str, text: str) -> Transcript:
    """Read ``<number> <answer>`` lines; ``#`` lines describe the reader.

    An answer is normalised as the field does (spaces dropped, any script's
    digits folded); anything but four digits, ``?`` included, counts as wrong.
    A number given twice is an error, not a silent choice.
    """
    transcript = Transcript(name=name, about="")
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        if line.lstrip().startswith("#"):
            comment = line.lstrip()[1:].strip()
            if comment.lower().startswith("reader:"):
                transcript.about = comment.split(":", 1)[1].strip()
            continue
        match = _LINE.match(line)
        if match is None:
            raise PanelError(f"{name}, line {lineno}: expected '<number> <answer>'")
        number = int(match.group(1))
        if number in transcript.answers:
            raise PanelError(f"{name}, line {lineno}: challenge {number} again")
        transcript.answers[number] = normalise_answer(match.group(2))
    return transcript


@dataclass
class Score:
    """One reader's (or all readers') figures against the key."""

    name: str
    about: str = ""
    attempts: int = 0
    solved: int = 0
    digits: int = 0
    digits_right: int = 0
    missing: int = 0  # numbers on the sheets the reader left out
    wrong: int = 0
    sprang: int = 0  # wrong answers that sprang the trap
    sprang_one_digit: int = 0  # ... under the first rule (one repeated digit)
    baited_wrong: int = 0  # wrong answers on challenges that carry a bait

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, with rates and Wilson 95% intervals."""
        return {
            "name": self.name,
            "about": self.about,
            "attempts": self.attempts,
            "solved": self.solved,
            "solve_rate": self.solved / self.attempts if self.attempts else None,
            "interval_95": list(wilson_interval(self.solved, self.attempts)),
            "digits": self.digits,
            "digits_right": self.digits_right,
            "digit_rate": self.digits_right / self.digits if self.digits else None,
            "digit_interval_95": list(wilson_interval(self.digits_right, self.digits)),
            "missing": self.missing,
            "wrong": self.wrong,
            "sprang": self.sprang,
            "sprang_of_attempts": self.sprang / self.attempts
            if self.attempts
            else None,
            "sprang_interval_95": list(wilson_interval(self.sprang, self.attempts)),
            "sprang_one_digit": self.sprang_one_digit,
            "baited_wrong": self.baited_wrong,
        }


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PanelError(f"no {path.name} in {path.parent}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PanelError(f"{path} is unreadable: {exc}") from None


def _valid_key(key: object) -> bool:
    """A panel's key: its schema, sheet digests, and numbered challenges."""
    if not isinstance(key, dict) or key.get("schema") != SCHEMA_VERSION:
        return False
    sheets, challenges = key.get("sheets"), key.get("challenges")
    if not isinstance(sheets, dict) or not sheets or not isinstance(challenges, dict):
        return False
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in sheets.items()):
        return False
    return bool(challenges) and all(
        isinstance(number, str)
        and number.isdigit()
        and isinstance(entry, dict)
        and isinstance(entry.get("answer"), str)
        and isinstance(entry.get("baits"), list)
        and all(isinstance(bait, str) for bait in entry["baits"])
        for number, entry in challenges.items()
    )


def load_key(panel: Path) -> dict[str, Any]:
    """The key, after checking it and that the sheets beside it are the ones
    it keys, no more and no fewer."""
    try:
        key = json.loads(_read_text(panel / KEY_FILE))
    except ValueError as exc:
        raise PanelError(f"{panel / KEY_FILE} is unreadable: {exc}") from None
    if not _valid_key(key):
        raise PanelError(f"{panel / KEY_FILE} is not a panel's key")
    on_disk = {p.name for p in panel.glob("sheet-*.png")}
    if on_disk - set(key["sheets"]):
        raise PanelError(f"{panel} holds sheets its key does not list")
    for name, digest in key["sheets"].items():
        sheet = panel / name
        if not sheet.is_file() or artifacts.sha256(sheet) != digest:
            raise PanelError(
                f"{sheet} is missing or not the sheet this key was made for"
            )
    return key  # type: ignore[no-any-return]


def score(key: dict[str, Any], transcript: Transcript) -> Score:
    """Score one transcript against a panel's key."""
    result = Score(name=transcript.name, about=transcript.about)
    challenges = key["challenges"]
    unknown = sorted(set(transcript.answers) - {int(n) for n in challenges})
    if unknown:
        raise PanelError(f"{transcript.name}: no challenge numbered {unknown[0]}")
    for number, entry in challenges.items():
        truth, baits = entry["answer"], tuple(entry["baits"])
        given = transcript.answers.get(int(number))
        result.attempts += 1
        result.digits += len(truth)
        if given is None:
            result.missing += 1
            result.wrong += 1
            continue
        if len(given) == len(truth):
            result.digits_right += sum(
                a == t for a, t in zip(given, truth, strict=True)
            )
        if given == truth:
            result.solved += 1
            continue
        result.wrong += 1
        result.baited_wrong += bool(baits)
        result.sprang += springs(given, truth, baits)
        result.sprang_one_digit += springs(given, truth, baits, digits=1)
    return result


def pooled(name: str, scores: Sequence[Score]) -> Score:
    """All readers' attempts as one count (their spread is reported apart)."""
    total = Score(name=name)
    for s in scores:
        for attr in (
            "attempts",
            "solved",
            "digits",
            "digits_right",
            "missing",
            "wrong",
            "sprang",
            "sprang_one_digit",
            "baited_wrong",
        ):
            setattr(total, attr, getattr(total, attr) + getattr(s, attr))
    return total


def score_panel(panel: Path) -> dict[str, Any]:
    """Every transcript in ``panel/readers`` scored, one by one and pooled."""
    key = load_key(panel)
    paths = sorted((panel / READERS_DIR).glob("*.txt"))
    if not paths:
        raise PanelError(f"no transcripts in {panel / READERS_DIR}")
    scores = [score(key, parse_transcript(p.stem, _read_text(p))) for p in paths]
    rates = [s.solved / s.attempts for s in scores]
    try:
        manifest = json.loads((panel / MANIFEST_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        manifest = {}
    if not isinstance(manifest, dict):
        manifest = {}
    baited = sum(bool(c["baits"]) for c in key["challenges"].values())
    return {
        "panel": panel.name,
        "design": manifest.get("design", ""),
        "challenges": len(key["challenges"]),
        "baited": baited,
        "readers": [s.as_dict() for s in scores],
        "all": pooled("all readers", scores).as_dict(),
        "mean_reader_rate": sum(rates) / len(rates),
        "lowest_reader_rate": min(rates),
    }


def _pct(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.1f}%"


def _span(pair: Sequence[float]) -> str:
    return f"{100 * pair[0]:.1f}-{100 * pair[1]:.1f}%"


def format_report(report: dict[str, Any]) -> str:
    """The panel's figures as a Markdown table, one row per reader and the pool."""
    lines = [
        f"panel {report['panel']}: {report['challenges']} challenges"
        + (f", {report['design']}" if report["design"] else "")
        + f"; {report['baited']} carry a bait",
        "",
        "| reader | challenges right | 95% (Wilson) | digits right | 95% (Wilson) "
        "| sprang the trap | of attempts | first rule (one digit) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in [*report["readers"], report["all"]]:
        lines.append(
            f"| {row['name']} | {row['solved']}/{row['attempts']} "
            f"({_pct(row['solve_rate'])}) | {_span(row['interval_95'])} "
            f"| {row['digits_right']}/{row['digits']} ({_pct(row['digit_rate'])}) "
            f"| {_span(row['digit_interval_95'])} "
            f"| {row['sprang']}/{row['wrong']} wrong "
            f"| {_pct(row['sprang_of_attempts'])} "
            f"| {row['sprang_one_digit']}/{row['attempts']} |"
        )
    lines.append("")
    lines.append(
        f"mean per reader {_pct(report['mean_reader_rate'])}, lowest reader "
        f"{_pct(report['lowest_reader_rate'])}"
    )
    abouts = sorted({r["about"] for r in report["readers"] if r["about"]})
    if abouts:
        lines.append("readers: " + "; ".join(abouts))
    return "\n".join(lines)
