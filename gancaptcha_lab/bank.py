"""A bank of labelled challenges drawn ahead by the site's own pipeline.

Drawing is the slow part of the lab (about 0.4 CPU-s per challenge here), so
challenges are rendered in batches with ``supply.render.render_answers`` (the
path the pool fill uses) and kept as files, the PNG exactly as served beside
its answer. The battery serves each one through the real image view under a
fresh key, so a bank is only a head start, never a short cut past the site.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from gancaptcha_field import artifacts

Log = Callable[[str], None]


def _batch_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("batch-*.npz")) if directory.is_dir() else []


Baits = tuple[str, ...]


def load(directory: Path) -> tuple[list[bytes], list[str], list[Baits]]:
    """Every banked challenge: PNGs as served (1x), their answers and the
    site's baits (() where none: GANCAPTCHA_TRAP off)."""
    pngs: list[bytes] = []
    answers: list[str] = []
    baits: list[Baits] = []
    for path in _batch_files(directory):
        with np.load(path) as data:
            blob = data["png"].tobytes()
            ends = data["ends"]
            starts = np.concatenate([[0], ends[:-1]])
            pngs.extend(blob[s:e] for s, e in zip(starts, ends, strict=True))
            answers.extend(str(a) for a in data["answers"])
            if "baits" in data:  # comma-separated per challenge
                baits.extend(
                    tuple(str(b).split(",")) if b else () for b in data["baits"]
                )
            else:
                baits.extend(() for _ in data["answers"])
    return pngs, answers, baits


def size(directory: Path) -> int:
    """How many challenges the bank holds."""
    total = 0
    for path in _batch_files(directory):
        with np.load(path) as data:
            total += len(data["answers"])
    return total


def append(
    directory: Path,
    pngs: list[bytes],
    answers: list[str],
    baits: list[Baits] | None = None,
) -> None:
    """Add one batch of labelled PNGs (and their baits), whole or not at all."""
    baits = baits if baits is not None else [()] * len(answers)
    if not len(pngs) == len(answers) == len(baits):
        raise ValueError("one answer and one bait per PNG")
    directory.mkdir(parents=True, exist_ok=True)
    index = len(_batch_files(directory))
    path = directory / f"batch-{index:05d}-{os.getpid()}.npz"
    with artifacts.atomic_path(path) as tmp:  # whole batches only
        np.savez(
            tmp,
            png=np.frombuffer(b"".join(pngs), np.uint8),
            ends=np.cumsum([len(p) for p in pngs]),
            answers=np.array(answers),
            baits=np.array([",".join(b) for b in baits], dtype=str),
        )


def fill(directory: Path, target: int, batch: int, log: Log) -> int:
    """Draw with the site's pipeline until the bank holds ``target``; how many made."""
    from gancaptcha_field.supply.answers import new_answer
    from gancaptcha_field.supply.render import render_answers

    directory.mkdir(parents=True, exist_ok=True)
    made = 0
    while (have := size(directory)) < target:
        count = min(batch, target - have)
        rendered = render_answers([new_answer() for _ in range(count)])
        append(
            directory,
            [r.png for r in rendered],
            [r.answer for r in rendered],
            [r.baits for r in rendered],
        )
        made += count
        log(f"bank: {have + count}/{target} challenges drawn")
    return made
