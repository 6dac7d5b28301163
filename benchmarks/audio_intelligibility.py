"""Objective intelligibility of the served audio, per language (issue 19, part 3).

For N seeded renders per language, with the package's own renderer: STOI and
extended STOI (pystoi, Taal et al. 2011; Jensen and Taal 2016) of the served
mix (digits + babble + noise) against its clean reference (the digits alone,
as the same render lays them down), and the signal-to-babble and
signal-to-babble-and-noise ratios over the spans where a digit is spoken.

    .venv/bin/pip install -r requirements-bench.txt   # pystoi (and scipy)
    .venv/bin/python -m benchmarks.audio_intelligibility --count 200 --json out.json

Not part of the tests. Prints one table.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

SEED = 20261207


def measure(language: str, count: int) -> dict[str, Any]:
    """STOI, ESTOI and the ratios over count renders in one language."""
    from pystoi import stoi

    from gancaptcha_field import audio, constants

    rng = np.random.default_rng(SEED)
    rows: dict[str, list[float]] = {"stoi": [], "estoi": [], "sbr": [], "snr": []}
    for _ in range(count):
        answer = "".join(str(d) for d in rng.integers(0, 10, constants.ANSWER_LENGTH))
        drawn = audio.plan(answer, language, rng)
        speech, babble, noise = audio.tracks(drawn)
        mixed = speech + babble + noise
        rate = audio.SAMPLE_RATE
        rows["stoi"].append(float(stoi(speech, mixed, rate, extended=False)))
        rows["estoi"].append(float(stoi(speech, mixed, rate, extended=True)))
        mask = np.zeros(drawn.samples, bool)
        for voicing in drawn.digits:
            clip = audio.voice_clip(language, voicing)
            mask[voicing.start : voicing.start + clip.size] = True
        signal = float(np.sum(speech[mask] ** 2))
        rows["sbr"].append(
            10 * math.log10(signal / max(float(np.sum(babble[mask] ** 2)), 1e-12))
        )
        rest = babble[mask] + noise[mask]
        rows["snr"].append(10 * math.log10(signal / max(float(np.sum(rest**2)), 1e-12)))
    out: dict[str, Any] = {"language": language, "renders": count}
    for name, values in rows.items():
        array = np.array(values)
        out[name] = {
            "mean": float(array.mean()),
            "p10": float(np.percentile(array, 10)),
            "min": float(array.min()),
            "max": float(array.max()),
        }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200, help="Renders (200).")
    parser.add_argument("--json", type=Path, default=None, help="Also write JSON.")
    args = parser.parse_args(argv)
    if args.count < 1:
        parser.error("--count must be at least 1")
    try:
        import pystoi  # noqa: F401
    except ImportError:
        print("needs pystoi: .venv/bin/pip install -r requirements-bench.txt")
        return 2
    from benchmarks import bootstrap

    bootstrap.setup()
    from gancaptcha_field import audio

    results = [measure(language, args.count) for language in audio.LANGUAGES]
    print(
        f"{'lang':5s} {'renders':>7s} {'STOI mean':>9s} {'p10':>6s} "
        f"{'ESTOI mean':>10s} {'p10':>6s} {'SBR dB mean':>11s} {'min':>6s} "
        f"{'S/(B+N) dB':>10s}"
    )
    for r in results:
        print(
            f"{r['language']:5s} {r['renders']:7d} {r['stoi']['mean']:9.3f} "
            f"{r['stoi']['p10']:6.3f} {r['estoi']['mean']:10.3f} "
            f"{r['estoi']['p10']:6.3f} {r['sbr']['mean']:+11.1f} "
            f"{r['sbr']['min']:+6.1f} {r['snr']['mean']:+10.1f}"
        )
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
