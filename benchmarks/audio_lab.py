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
# Each run's JSON and the command that wrote it (run from the repository root).
RUNS: dict[str, str] = {
    "audio_lab_trained-1000_en.json": (
        "python manage.py captcha_attack --audio --audio-attackers trained-1000 "
        "--audio-languages en --challenges 100 "
        "--json docs/audio_lab_trained-1000_en.json"
    ),
    "audio_lab_trained-10000_en.json": (
        "python manage.py captcha_attack --audio --audio-attackers trained-10000 "
        "--audio-languages en --challenges 100 "
        "--json docs/audio_lab_trained-10000_en.json"
    ),
    "audio_lab_trained-20000_en.json": (
        "python manage.py captcha_attack --audio --audio-attackers trained-20000 "
        "--audio-languages en --challenges 100 "
        "--json docs/audio_lab_trained-20000_en.json"
    ),
    "audio_lab_trained-30000_en.json": (
        "python manage.py captcha_attack --audio --audio-attackers trained-30000 "
        "--audio-languages en --challenges 100 "
        "--json docs/audio_lab_trained-30000_en.json"
    ),
    "audio_lab_trained-1000_es.json": (
        "python manage.py captcha_attack --audio --audio-attackers trained-1000 "
        "--audio-languages es --challenges 100 "
        "--json docs/audio_lab_trained-1000_es.json"
    ),
    "audio_lab_trained-10000_es.json": (
        "python manage.py captcha_attack --audio --audio-attackers trained-10000 "
        "--audio-languages es --challenges 100 "
        "--json docs/audio_lab_trained-10000_es.json"
    ),
    "audio_lab_pocketsphinx.json": (
        "python manage.py captcha_attack --audio --audio-attackers pocketsphinx "
        "--audio-languages en --challenges 100 --audio-clean "
        "--json docs/audio_lab_pocketsphinx.json"
    ),
}


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
    return {"scores": rows, "oracle": oracle}


def markdown(gathered: dict[str, Any]) -> str:
    """The learning curve and the other rows as Markdown tables."""
    lines = [
        "| N renders | epochs | held-out digits (renders) | held-out files | "
        "served solved (95%) | served digits right (95%) |",
        "| ---: | ---: | ---: | ---: | --- | --- |",
    ]
    trained = [s for s in gathered["scores"] if "renders" in s]
    for s in sorted(trained, key=lambda s: (s["language"], s["renders"])):
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
