"""CPU per WAV: the served audio against the 0.x renderer, in one process.

    .venv/bin/python -m benchmarks.audio_cost [--count 100]

Both renderers get the same answers and seeded generators; rounds alternate
so that machine load falls on both alike. Prints ms of CPU per file and the
ratio.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from benchmarks import bootstrap

bootstrap.setup()

from gancaptcha_field import audio  # noqa: E402
from gancaptcha_lab import audio as lab_audio  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=100, help="files per renderer")
    args = parser.parse_args()
    answers = [f"{i * 7919 % 10000:04d}" for i in range(args.count)]
    spent = {"0.x renderer": 0.0, "served": 0.0}
    renderers = {"0.x renderer": lab_audio.render_plain, "served": audio.render_wav}
    for index, answer in enumerate(answers):
        for name, render in renderers.items():
            rng = np.random.default_rng(index)
            start = time.process_time()
            render(answer, "en", rng)
            spent[name] += time.process_time() - start
    base = spent["0.x renderer"] / args.count
    for name, total in spent.items():
        per = total / args.count
        print(f"{name:<14} {per * 1000:7.1f} ms CPU per WAV  {per / base:5.2f}x")


if __name__ == "__main__":
    main()
