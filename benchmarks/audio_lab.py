"""Gather the audio lab's runs into docs/audio_lab.json and print its tables.

Each run is a ``captcha_attack --audio ... --json docs/audio_lab_<row>.json``
(the commands are in docs/audio_lab.md); this reads those files, keeps every
score row with the command that made it, and prints the learning curve and
the off-the-shelf rows as Markdown.

    .venv/bin/python -m benchmarks.audio_lab --json docs/audio_lab.json

Not part of the tests.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

DOCS = Path(__file__).resolve().parent.parent / "docs"
# The languages of the trained recogniser's runs, in the order of the tables.
LANGUAGES = ("en", "es", "de", "fr", "it", "pt-br", "nl", "pl")
# (renders, language) of every trained run made.
TRAINED = (
    (1_000, "en"),
    (10_000, "en"),
    (20_000, "en"),
    (30_000, "en"),
    (1_000, "es"),
    (10_000, "es"),
    (1_000, "de"),
    (1_000, "fr"),
    (1_000, "it"),
    (1_000, "pt-br"),
    (1_000, "nl"),
    (1_000, "pl"),
    (10_000, "de"),
    (10_000, "fr"),
)


def _trained_command(renders: int, language: str) -> str:
    return (
        f"python manage.py captcha_attack --audio --audio-attackers "
        f"trained-{renders} --audio-languages {language} --challenges 100 "
        f"--json docs/audio_lab_trained-{renders}_{language}.json"
    )


# Each run's JSON and the command that wrote it (run from the repository root).
RUNS: dict[str, str] = {
    **{
        f"audio_lab_trained-{renders}_{language}.json": _trained_command(
            renders, language
        )
        for renders, language in TRAINED
    },
    "audio_lab_pocketsphinx.json": (
        "python manage.py captcha_attack --audio --audio-attackers pocketsphinx "
        "--audio-languages en --challenges 100 --audio-clean "
        "--json docs/audio_lab_pocketsphinx.json"
    ),
}
INTELLIGIBILITY = "audio_intelligibility.json"


def _percent(value: float) -> str:
    return f"{100 * value:.1f}%"


def _interval(pair: list[float]) -> str:
    return f"{100 * pair[0]:.1f}-{100 * pair[1]:.1f}%"


def gather(docs: Path = DOCS) -> dict[str, Any]:
    """Every score row of every run found, with its command; the oracle rows."""
    rows: list[dict[str, Any]] = []
    oracle: list[dict[str, Any]] = []
    for name, command in RUNS.items():
        path = docs / name
        if not path.is_file():
            continue
        report = json.loads(path.read_text())
        for score in report["scores"]:
            rows.append({**score, "command": command, "source": name})
        oracle.extend(report.get("oracle", []))
    path = docs / INTELLIGIBILITY
    intelligibility = json.loads(path.read_text()) if path.is_file() else []
    return {"scores": rows, "oracle": oracle, "intelligibility": intelligibility}


def markdown(gathered: dict[str, Any]) -> str:
    """The learning curve and the other rows as Markdown tables."""
    lines = [
        "| N renders | epochs | held-out digits (renders) | held-out files | "
        "served solved (95%) | served digits right (95%) |",
        "| ---: | ---: | ---: | ---: | --- | --- |",
    ]
    trained = [s for s in gathered["scores"] if "renders" in s]

    def order(s: dict[str, Any]) -> tuple[int, int]:
        language = s["language"]
        rank = LANGUAGES.index(language) if language in LANGUAGES else len(LANGUAGES)
        return rank, s["renders"]

    for s in sorted(trained, key=order):
        lines.append(
            f"| {s['renders']:,} ({s['language']}) | {s['epochs']} | "
            f"{_percent(s['held_out_digit_accuracy'])} | "
            f"{_percent(s['held_out_file_accuracy'])} | "
            f"{s['solved']}/{s['attempts']} ({_interval(s['solve_rate_95'])}) | "
            f"{_percent(s['digit_accuracy'])} ({_interval(s['digit_accuracy_95'])}) |"
        )
    lines += [
        "",
        "| attacker | language | files | solved (95%) | digits right (95%) |",
        "| --- | --- | --- | --- | --- |",
    ]
    for s in gathered["scores"]:
        if "renders" in s:
            continue
        lines.append(
            f"| {s['attacker']} | {s['language']} | {s['route']} | "
            f"{s['solved']}/{s['attempts']} ({_interval(s['solve_rate_95'])}) | "
            f"{_percent(s['digit_accuracy'])} ({_interval(s['digit_accuracy_95'])}) |"
        )
    return "\n".join([*lines, "", per_language(gathered)])


def per_language(gathered: dict[str, Any]) -> str:
    """One row per language: the trained recogniser at 1,000 renders and the
    objective intelligibility of the served files."""
    lines = [
        "| language | trained-1000 served solved (95%) | digits right | "
        "held-out files | STOI | ESTOI | signal-to-babble (mean, p10) |",
        "| --- | --- | ---: | ---: | ---: | ---: | --- |",
    ]
    scores = {
        s["language"]: s
        for s in gathered["scores"]
        if s.get("renders") == 1_000 and s["route"] == "served"
    }
    measured = {m["language"]: m for m in gathered.get("intelligibility", [])}
    for language in LANGUAGES:
        s, m = scores.get(language), measured.get(language)
        attack = (
            f"{s['solved']}/{s['attempts']} ({_interval(s['solve_rate_95'])}) | "
            f"{_percent(s['digit_accuracy'])} | "
            f"{_percent(s['held_out_file_accuracy'])}"
            if s
            else "not run | - | -"
        )
        objective = (
            f"{m['stoi']['mean']:.3f} | {m['estoi']['mean']:.3f} | "
            f"{m['sbr']['mean']:+.1f} dB, {m['sbr']['p10']:+.1f} dB"
            if m
            else "not run | - | -"
        )
        lines.append(f"| {language} | {attack} | {objective} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Write the gathered JSON (if asked) and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    gathered = gather()
    if args.json is not None:
        args.json.write_text(json.dumps(gathered, indent=2) + "\n")
    sys.stdout.write(markdown(gathered) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
