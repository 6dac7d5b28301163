"""Challenge supply: the old draw (plain noise) against the new (latent bank).

    .venv/bin/python -m benchmarks.supply [--digits 5000] [--old-digits 2000]
        [--challenges 300] [--batch-sizes 512,128,64] [--retrain-judge]

Both paths run in one process on the shipped models and are printed as ratios
(new / old); the producer cases run in interleaved rounds, each from empty
buckets, the served digits one path after the other:

- generator passes per checked digit, and checked digits per second;
- challenges per second of one producer (``pool.fill``, as captcha_fill_pool
  runs it: draw, render both PNGs, write to a fresh SQLite pool) and generator
  passes per challenge, for each GANCAPTCHA_DRAW["batch_size"] given;
- pass rate per label: old, the share of plain draws that pass as that label;
  new, the share of draws asked of that label's bank that pass;
- agreement of served labels with an independent judge, and per label;
- diversity: mean pairwise pixel distance between served digits of one label.

The judge is a CNN of its own architecture (below), trained from JUDGE_SEED on
MNIST's training split and cached in .cache/ (never in ml_models, never
served). It chose nothing: thresholds, margin and sigma come from the reader's
and verifier's figures alone (training/latents.py). Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import bootstrap
from benchmarks.bootstrap import RESULTS, ROOT

JUDGE_PATH = ROOT / ".cache" / "supply_judge.keras"
JUDGE_SEED = 31337
JUDGE_EPOCHS = 2
PATHS = ("old", "new")


def log(message: str) -> None:
    print(f"[supply] {message}", file=sys.stderr, flush=True)


def build_judge() -> Any:
    """A CNN unlike the reader and the verifier: strided convolutions, no
    pooling, a wide dense layer with dropout."""
    import keras
    from keras import layers

    inputs = keras.Input(shape=(28, 28, 1), name="image")
    x = layers.Conv2D(32, 5, strides=2, padding="same", activation="relu")(inputs)
    x = layers.Conv2D(64, 3, strides=2, padding="same", activation="relu")(x)
    x = layers.Flatten()(x)
    x = layers.Dropout(0.4)(x)
    x = layers.Dense(256, activation="relu")(x)
    x = layers.Dropout(0.4)(x)
    outputs = layers.Dense(10, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="supply_judge")


def load_or_train_judge(path: Path, retrain: bool) -> tuple[Any, float]:
    """The cached judge (trained first, deterministically from JUDGE_SEED, when
    absent) and its accuracy on MNIST's test split."""
    import keras

    from gancaptcha_field.training import classifiers, data

    mnist = data.load("bundled", ROOT / "ml_models")
    if path.is_file() and not retrain:
        model = keras.models.load_model(path, compile=False)
    else:
        log(f"training the judge ({JUDGE_EPOCHS} epochs, seed {JUDGE_SEED})")
        keras.utils.set_random_seed(JUDGE_SEED)
        model = build_judge()
        model.compile(
            optimizer=keras.optimizers.Adam(1e-3),
            loss="sparse_categorical_crossentropy",
        )
        model.fit(
            classifiers.as_input(mnist.x_train),
            mnist.y_train,
            batch_size=128,
            epochs=JUDGE_EPOCHS,
            shuffle=True,
            verbose=0,
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.keras")
        model.save(tmp)
        os.replace(tmp, path)
    return model, classifiers.accuracy(model, mnist.x_test, mnist.y_test)


def path_settings(path: str, batch_size: int | None = None) -> dict[str, Any]:
    """The settings of each path; old is exactly how the app served before."""
    draw = {} if batch_size is None else {"batch_size": batch_size}
    if path == "old":
        return {
            "GANCAPTCHA_DRAW": {"latent_bank": False, **draw},
            "GANCAPTCHA_SERVING_RULE": {"margin": 0.0},
        }
    return {"GANCAPTCHA_DRAW": {"latent_bank": True, **draw}}


class Counter:
    """The registry's counters, read as differences."""

    def __init__(self) -> None:
        from gancaptcha_field.supply import registry

        self.reg = registry.get_registry()
        self.start = self.now()

    def now(self) -> tuple[int, np.ndarray, np.ndarray]:
        return (
            self.reg.digits_drawn,
            self.reg.asked_per_label.copy(),
            self.reg.passed_per_label.copy(),
        )

    def since(self) -> tuple[int, np.ndarray, np.ndarray]:
        now = self.now()
        return now[0] - self.start[0], now[1] - self.start[1], now[2] - self.start[2]


def mean_pairwise_distance(digits: np.ndarray, rng: np.random.Generator) -> float:
    x = digits.reshape(len(digits), -1).astype(np.float64) / 255.0
    a, b = rng.integers(len(x), size=(2, 3000))
    keep = a != b
    return float(np.linalg.norm(x[a[keep]] - x[b[keep]], axis=1).mean())


def draw_digits(
    path: str, count: int, rounds: int, rng: np.random.Generator
) -> dict[str, Any]:
    """``count`` digits as served (uniform labels), timed in ``rounds`` slices."""
    from django.test import override_settings

    from gancaptcha_field.supply import registry

    labels = rng.integers(10, size=count)
    images, seconds, drawn = [], 0.0, 0
    asked = np.zeros(10, np.int64)
    passed = np.zeros(10, np.int64)
    for part in np.array_split(labels, rounds):
        with override_settings(**path_settings(path)):
            counter = Counter()
            start = time.perf_counter()
            for chunk in np.array_split(part, max(1, len(part) // 256)):
                images.append(registry.get_registry().draw(chunk.tolist()))
            seconds += time.perf_counter() - start
            d, a, p = counter.since()
        drawn, asked, passed = drawn + d, asked + a, passed + p
    return {
        "labels": labels,
        "images": np.concatenate(images),
        "seconds": seconds,
        "generator_passes": drawn,
        "asked_per_label": asked,
        "passed_per_label": passed,
    }


def produce(path: str, challenges: int, batch_size: int | None) -> dict[str, Any]:
    """One producer filling an empty pool with ``challenges`` challenges."""
    from django.test import override_settings

    from gancaptcha_field.supply import pool, registry

    with override_settings(**path_settings(path, batch_size)):
        pool.clear()
        # From empty buckets: no case lives off digits another case drew.
        registry.get_registry().clear_buckets()
        counter = Counter()
        start = time.perf_counter()
        made = pool.fill(target=challenges, batch=64)
        seconds = time.perf_counter() - start
        drawn, _, _ = counter.since()
        pool.clear()
    return {"challenges": made, "seconds": seconds, "generator_passes": drawn}


def warm(path: str, batch_size: int | None = None) -> None:
    """Trace the graphs for this path's batch shapes and fill its buckets."""
    from django.test import override_settings

    from gancaptcha_field.supply import render

    with override_settings(**path_settings(path, batch_size)):
        render.render_answers(["0123", "4567", "8901"] * 4)


def lab_judge_agreement(
    directory: Path, served: dict[str, Any] | None
) -> dict[str, dict[str, Any]]:
    """Agreement of the served labels with each lab stock classifier in
    ``directory`` (trained on clean MNIST by the attacker lab, never used for
    serving, thresholds or filters), beside its own MNIST test accuracy."""
    if served is None or not directory.is_dir():
        return {}
    import keras

    from gancaptcha_lab import attackers

    with np.load(ROOT / "ml_models" / "data" / "mnist.npz") as data:
        x_test = data["x_test"].astype(np.float32) / 255.0
        y_test = data["y_test"].astype(np.int64)
    digits = served["images"].astype(np.float32) / 255.0
    out: dict[str, dict[str, Any]] = {}
    for path in sorted(directory.glob("*-clean-*.keras")):
        model = keras.models.load_model(path, compile=False)
        read = attackers.predict(model, digits)
        agree = read == served["labels"]
        out[path.stem] = {
            "mnist_test_accuracy": float(
                (attackers.predict(model, x_test) == y_test).mean()
            ),
            "agreement": float(agree.mean()),
            "disagreements": int((~agree).sum()),
            "agreement_per_label": {
                str(d): float(agree[served["labels"] == d].mean()) for d in range(10)
            },
        }
        log(f"lab judge {path.stem}: agreement {out[path.stem]['agreement']:.4f}")
    return out


def ratio(new: float, old: float) -> float | None:
    return new / old if old else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--digits", type=int, default=5000, help="new path (5000)")
    parser.add_argument("--old-digits", type=int, default=2000, help="old (2000)")
    parser.add_argument("--challenges", type=int, default=300, help="per fill (300)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved (3)")
    parser.add_argument(
        "--batch-sizes",
        default="512,128,64",
        help="GANCAPTCHA_DRAW['batch_size'] values for the producer (512,128,64)",
    )
    parser.add_argument("--retrain-judge", action="store_true")
    parser.add_argument(
        "--lab-judges",
        type=Path,
        default=Path.home() / ".cache" / "gancaptcha-lab" / "models",
        help="More judges: the attacker lab's stock classifiers trained on clean "
        "MNIST (*-clean-*.keras; `make attack` trains them), if there",
    )
    parser.add_argument(
        "--producer-only", action="store_true", help="skip the served digits"
    )
    parser.add_argument("--seed", type=int, default=2026, help="label order")
    parser.add_argument(
        "--output", type=Path, default=RESULTS / "supply.json", help="JSON out"
    )
    args = parser.parse_args(argv)
    batch_sizes = [int(b) for b in args.batch_sizes.split(",") if b]

    with bootstrap.django_here(side="ours", name="supply"):
        return run(args, batch_sizes)


def run(args: argparse.Namespace, batch_sizes: list[int]) -> int:
    from gancaptcha_field.conf import conf
    from gancaptcha_field.supply import registry
    from gancaptcha_field.training import classifiers

    reg = registry.get_registry()
    status = reg.status()
    if not status.ok:
        log(status.message)
        return 1
    if not reg.has_bank:
        log("the model set has no latent bank: run manage.py captcha_fit_latents")
        return 1
    judge, judge_accuracy = load_or_train_judge(JUDGE_PATH, args.retrain_judge)
    log(f"judge test accuracy {judge_accuracy:.4f}")
    rng = np.random.default_rng(args.seed)
    results: dict[str, Any] = {"judge_test_accuracy": judge_accuracy}

    # Digits as served, both paths, interleaved slices.
    served: dict[str, dict[str, Any]] = {}
    for path, count in (("old", args.old_digits), ("new", args.digits)):
        if args.producer_only:
            break
        warm(path)
        log(f"{path}: drawing {count} digits")
        served[path] = draw_digits(path, count, args.rounds, rng)
    for path, got in served.items():
        probs = classifiers.predict(judge, classifiers.as_input(got["images"]))
        agree = probs.argmax(1) == got["labels"]
        if path == "old":
            # Plain draws: every pass may yield any label.
            pass_rate = got["passed_per_label"] / max(1, got["generator_passes"])
        else:
            pass_rate = got["passed_per_label"] / np.maximum(1, got["asked_per_label"])
        results[path] = {
            "digits": len(got["labels"]),
            "generator_passes_per_digit": got["generator_passes"] / len(got["labels"]),
            "checked_per_generator_pass": got["passed_per_label"].sum()
            / max(1, got["generator_passes"]),
            "digits_per_second": len(got["labels"]) / got["seconds"],
            "judge_agreement": float(agree.mean()),
            "judge_disagreements": int((~agree).sum()),
            "judge_agreement_per_label": {
                str(d): float(agree[got["labels"] == d].mean()) for d in range(10)
            },
            "pass_rate_per_label": {str(d): float(pass_rate[d]) for d in range(10)},
            "mean_pairwise_distance_per_label": {
                str(d): mean_pairwise_distance(got["images"][got["labels"] == d], rng)
                for d in range(10)
            },
        }

    # More judges, none of which chose anything: the lab's stock classifiers.
    lab_judges = lab_judge_agreement(args.lab_judges, served.get("new"))
    if lab_judges:
        results["lab_judges"] = lab_judges

    # One producer: interleaved rounds of pool fills, per batch size.
    producer: dict[str, dict[str, float]] = {}
    cases = [("old", None)] + [("new", b) for b in batch_sizes]
    for case in cases:
        warm(*case)
    for round_ in range(args.rounds):
        for path, batch in cases[round_ % len(cases) :] + cases[: round_ % len(cases)]:
            key = f"{path}" if batch is None else f"{path}@{batch}"
            got = produce(path, args.challenges, batch)
            acc = producer.setdefault(
                key, {"challenges": 0, "seconds": 0.0, "generator_passes": 0}
            )
            for name in acc:
                acc[name] += got[name]
            log(f"round {round_ + 1}: {key} {got['challenges'] / got['seconds']:.1f}/s")
    for acc in producer.values():
        acc["challenges_per_second"] = acc["challenges"] / acc["seconds"]
        acc["generator_passes_per_challenge"] = (
            acc["generator_passes"] / acc["challenges"]
        )
    results["producer"] = producer
    results["producer_default_batch"] = conf.DRAW["batch_size"]

    old, new = results.get("old"), results.get("new")
    best = max(
        (k for k in producer if k != "old"),
        key=lambda k: producer[k]["challenges_per_second"],
    )
    lines = [
        "| figure | old | new | new / old |",
        "|---|---|---|---|",
    ]

    def row(name: str, a: float, b: float, spec: str = ".3f") -> None:
        r = ratio(b, a)
        shown = "-" if r is None else f"{r:.2f}x"
        lines.append(f"| {name} | {a:{spec}} | {b:{spec}} | {shown} |")

    for key in producer:
        if key == "old":
            continue
        row(
            f"producer challenges/s ({key} vs old)",
            producer["old"]["challenges_per_second"],
            producer[key]["challenges_per_second"],
            ".1f",
        )
        row(
            f"generator passes per challenge ({key} vs old)",
            producer["old"]["generator_passes_per_challenge"],
            producer[key]["generator_passes_per_challenge"],
            ".1f",
        )
    if old is not None and new is not None:
        row(
            "generator passes per checked digit",
            old["generator_passes_per_digit"],
            new["generator_passes_per_digit"],
            ".2f",
        )
        row(
            "checked digits per generator pass",
            old["checked_per_generator_pass"],
            new["checked_per_generator_pass"],
        )
        row(
            "checked digits per second",
            old["digits_per_second"],
            new["digits_per_second"],
            ".1f",
        )
        row("judge agreement", old["judge_agreement"], new["judge_agreement"], ".4f")
        for name, key in (
            ("pass rate", "pass_rate_per_label"),
            ("judge agreement", "judge_agreement_per_label"),
        ):
            for d in range(10):
                pair = old[key][str(d)], new[key][str(d)]
                row(f"{name}, label {d}", *pair, ".4f")
        row(
            "mean pairwise pixel distance (mean over labels)",
            float(np.mean(list(old["mean_pairwise_distance_per_label"].values()))),
            float(np.mean(list(new["mean_pairwise_distance_per_label"].values()))),
            ".2f",
        )
    for name, judged in lab_judges.items():
        lines.append(
            f"| agreement of served labels (new) with lab judge {name}, "
            f"MNIST test accuracy {judged['mnist_test_accuracy']:.4f} "
            f"| | {judged['agreement']:.4f} | |"
        )
    table = "\n".join(lines)
    results["table"] = table
    results["best_batch"] = best
    print(table)
    print(
        f"\njudge: {old and old['digits']} old digits, "
        f"{new and new['digits']} new digits; judge test accuracy"
        f" {judge_accuracy:.4f}; best producer case {best}"
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkstemp(dir=args.output.parent, suffix=".tmp")[1])
    tmp.write_text(json.dumps(results, indent=2, default=float) + "\n")
    os.replace(tmp, args.output)
    print(f"Wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
