"""Proof-of-work cost at each difficulty: a native solver against Chromium.

    .venv/bin/python -m benchmarks.pow [--attempts 15] [--browser-attempts 15]

Difficulties: the quiet minimum, the geometric middle, and the maximum that
GANCAPTCHA_POW["attack_rate"] failures per minute reach (the defaults of conf).
The native solver is one core of OpenSSL's PBKDF2 (CPU-seconds per attempt);
Chromium runs the shipped gancaptcha-pow.js with its Web Workers (wall seconds
a visitor waits). Prints a table and the ratio of the two.
"""

from __future__ import annotations

import argparse
import json
import math
import os
from pathlib import Path

from benchmarks import bootstrap

bootstrap.setup()

from gancaptcha_field import artifacts  # noqa: E402
from gancaptcha_field.conf import conf  # noqa: E402
from gancaptcha_lab import pow as lab_pow  # noqa: E402


def difficulties() -> list[int]:
    """Quiet, middle and under-attack expected tries."""
    low, high = conf.POW["min_tries"], conf.POW["max_tries"]
    return sorted({low, round(math.sqrt(low * high)), high})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--attempts", type=int, default=15, help="native, per level")
    parser.add_argument(
        "--browser-attempts", type=int, default=15, help="Chromium, per level"
    )
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    rows = []
    print(
        f"PBKDF2-SHA256, {conf.POW['iterations']} iterations per try; "
        f"{os.cpu_count()} CPU cores"
    )
    print(
        f"{'tries':>6} {'native mean CPU-s':>18} {'Chromium median s':>18} "
        f"{'Chromium mean s':>16} {'Chromium/native':>16}"
    )
    for tries in difficulties():
        native = lab_pow.native_cost(tries, args.attempts)
        browser = lab_pow.chromium_cost(tries, args.browser_attempts)
        ratio = browser.mean / native.mean
        rows.append(
            {"native": native.as_dict(), "chromium": browser.as_dict(), "ratio": ratio}
        )
        print(
            f"{tries:>6} {native.mean:>18.3f} {browser.median:>18.3f} "
            f"{browser.mean:>16.3f} {ratio:>15.2f}x"
        )
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {"iterations": conf.POW["iterations"], "rows": rows}
        artifacts.write_bytes(path, (json.dumps(payload, indent=2) + "\n").encode())


if __name__ == "__main__":
    main()
