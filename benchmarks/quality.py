"""Quality figures for the shipped models (not a test; prints and writes JSON).

    .venv/bin/python -m benchmarks.quality [--count 5000]

Measures, with the judge (an independent classifier, never served):
- the reader's, verifier's and judge's accuracy on MNIST's held-out test split;
- how often reader and verifier agree on raw generated digits, and the share
  that passes both filters, per label;
- on COUNT digits drawn exactly as served (captcha_sample): the judge's
  agreement with the served labels and an Inception-style score, beside the
  judge's score on real test digits; the label histogram.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from benchmarks import bootstrap

bootstrap.setup()

from django.core.management import call_command  # noqa: E402

from gancaptcha_field import artifacts, constants, oracle  # noqa: E402
from gancaptcha_field.conf import conf  # noqa: E402
from gancaptcha_field.training import classifiers, data  # noqa: E402
from gancaptcha_field.training.judge import default_judge_path, load_or_train_judge  # noqa: E402
from gancaptcha_field.training.pipeline import generate  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument(
        "--raw",
        type=int,
        default=20000,
        help="raw generated digits for the filter figures",
    )
    parser.add_argument(
        "--output", type=Path, default=ROOT / "benchmarks" / "results" / "quality.json"
    )
    parser.add_argument(
        "--sheet", type=Path, default=ROOT / "docs" / "sample_sheet.png"
    )
    args = parser.parse_args()

    import keras

    model_dir = conf.MODEL_DIR
    assert model_dir is not None
    mnist = data.load("bundled", model_dir)
    load = lambda name: keras.models.load_model(model_dir / name, compile=False)  # noqa: E731
    generator, reader, verifier = (load(n) for n in constants.MODEL_FILES)
    judge = load_or_train_judge(default_judge_path(model_dir), mnist, print)

    results: dict = {"model_dir": str(model_dir)}
    test_unit = classifiers.as_input(mnist.x_test)
    for name, model in (("reader", reader), ("verifier", verifier), ("judge", judge)):
        probs = classifiers.predict(model, test_unit)
        results[f"{name}_test_accuracy"] = float(
            np.mean(probs.argmax(1) == mnist.y_test)
        )
        if name == "judge":
            results["judge_inception_score_real_test"] = classifiers.inception_score(
                probs
            )

    raw = generate(generator, args.raw, seed=int.from_bytes(os.urandom(4), "little"))
    unit = classifiers.as_input(raw)
    rp, vp, jp = (classifiers.predict(m, unit) for m in (reader, verifier, judge))
    rule = artifacts.serving_rule(artifacts.read_metadata_or_empty(model_dir))
    verdict = oracle.judge(rp, vp, rule.reader_threshold, rule.verifier_threshold)
    results["raw"] = {
        "count": args.raw,
        "reader_verifier_agreement": float(np.mean(rp.argmax(1) == vp.argmax(1))),
        "judge_agreement_with_reader_all": float(np.mean(rp.argmax(1) == jp.argmax(1))),
        "pass_rate": float(verdict.accepted.mean()),
        "judge_agreement_on_passed": float(
            np.mean(jp.argmax(1)[verdict.accepted] == verdict.labels[verdict.accepted])
        )
        if verdict.accepted.any()
        else None,
        "pass_rate_per_label": {
            str(d): float(np.mean(verdict.accepted & (verdict.labels == d)))
            for d in range(10)
        },
    }
    # What the verifier buys: the judge's agreement when only the reader filters.
    reader_only = verdict.confidence >= rule.reader_threshold
    results["raw"]["judge_agreement_reader_threshold_only"] = (
        float(np.mean(jp.argmax(1)[reader_only] == verdict.labels[reader_only]))
        if reader_only.any()
        else None
    )
    results["raw"]["pass_rate_reader_threshold_only"] = float(reader_only.mean())

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "served.npz"
        args.sheet.parent.mkdir(parents=True, exist_ok=True)
        call_command(
            "captcha_sample",
            "--count",
            str(args.count),
            "--output",
            str(path),
            "--sheet",
            str(args.sheet),
            verbosity=0,
            stdout=open(os.devnull, "w"),
        )
        served = np.load(path)
        images, labels = served["images"], served["labels"]
    jp = classifiers.predict(judge, classifiers.as_input(images))
    results["served"] = {
        "count": len(labels),
        "judge_agreement": float(np.mean(jp.argmax(1) == labels)),
        "judge_inception_score": classifiers.inception_score(jp),
        "label_histogram": np.bincount(labels, minlength=10).tolist(),
        "mean_reader_confidence": float(served["confidence"].mean()),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
