"""Speed and memory: ours against the seed pipeline and django-simple-captcha.

    make bench                                  # installs requirements-bench.txt
    .venv/bin/python -m benchmarks.bench [--quick] [--db auto|sqlite|postgres]

Everything is measured in one run on one machine, so the ratios mean something;
the absolute figures are this machine's. The contenders of a section are timed
in interleaved rounds (a slice of each in turn, the order rotating), so that a
change in the machine's speed falls on all of them alike. Prints tables and
writes benchmarks/results/bench.json. This module is the runner: each section
is a module of benchmarks/sections/ (its run and its table), run one after the
other in one process, on one Django set-up (benchmarks/bootstrap.py) and one
database (--db). Sections (each can be skipped with --skip):

  seed      the seed pipeline as written: generator.predict() on 4 noise
            vectors, reader.predict(), a matplotlib figure saved to PNG
            (interleaved with inproc's rounds unless that is skipped)
  inproc    one challenge made and its image fetched, through Django's test
            client: django-simple-captcha, ours from the pool (database and
            Redis stores), then ours drawn on the spot
  http      gunicorn, 2 workers per side, on loopback, loaded by wrk: GET the
            signup page, then GET its CAPTCHA image; ours (pool-only workers)
            and the peer's equivalent page, and the page with no CAPTCHA
  startup   a worker's start-up (django.setup(), so ready() and any model
            load) and its resident memory
  training  images/s of the GAN step: ours, the TF DCGAN tutorial's, each
            also with XLA (jit_compile=True)
  issuing   CPU time and bytes stored per page view, ours (default, and from
            a pool) against django-simple-captcha (benchmarks/issuing_cost.py)
  sustained a minute of load per row while challenges are drawn on the same
            machine: the demo as shipped, pool-only workers + a producer, the
            inline image, against the peer; and the producer's challenges/s,
            old path against new (benchmarks/sustained.py)
  onnx      the serving networks in ONNX Runtime against Keras: time per
            call and a loading process's peak RSS, and the serving decisions
            of a fixed-seed batch both ways (benchmarks/onnx_serving.py)
  install   a fresh virtualenv with the base install (no extras): its size,
            and whether it draws with TensorFlow blocked; against one with
            django-simple-captcha

Rate limits are off (benchmarks/settings.py). Not part of the test suite.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from benchmarks import bootstrap
from benchmarks.bootstrap import RESULTS, log
from benchmarks.sections import (
    Run,
    http_load,
    inproc,
    install,
    issuing,
    onnx,
    seed,
    startup,
    sustained,
    training,
)

# In the order they run: inproc runs the seed's rounds interleaved with its
# own, and the seed section then takes its figures (or runs alone).
SECTIONS: dict[str, ModuleType] = {
    "inproc": inproc,
    "seed": seed,
    "http": http_load,
    "startup": startup,
    "training": training,
    "issuing": issuing,
    "sustained": sustained,
    "onnx": onnx,
    "install": install,
}


def environment(db: str) -> dict[str, Any]:
    import django

    info: dict[str, Any] = {
        "python": platform.python_version(),
        "django": django.get_version(),
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "database": db,
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    for package in ("tensorflow", "keras", "django-simple-captcha", "gunicorn"):
        try:
            info[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            info[package] = None
    try:
        info["wrk"] = subprocess.run(
            ["wrk", "--version"], capture_output=True, text=True, check=False
        ).stdout.split("\n")[0]
    except OSError:
        info["wrk"] = None
    return info


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="Tiny counts: checks that every section runs.",
    )
    parser.add_argument(
        "--db",
        choices=["auto", "sqlite", "postgres"],
        default="auto",
        help="Database for both sides (auto: PostgreSQL if it "
        "answers on 127.0.0.1:5432, else SQLite).",
    )
    parser.add_argument(
        "--skip",
        default="",
        help=f"Comma-separated sections to skip: {', '.join(SECTIONS)}.",
    )
    parser.add_argument(
        "--model-dir",
        type=Path,
        default=None,
        help="Model set to use (default: ml_models/).",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=RESULTS / "bench.json",
        help="Where the JSON goes (benchmarks/results/bench.json).",
    )
    args = parser.parse_args(argv)
    unknown = set(filter(None, args.skip.split(","))) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown section(s): {', '.join(sorted(unknown))}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    skip = set(filter(None, args.skip.split(",")))
    RESULTS.mkdir(parents=True, exist_ok=True)
    if args.model_dir is not None:
        os.environ["BENCH_MODEL_DIR"] = str(args.model_dir.resolve())
    results: dict[str, Any] = {}
    with bootstrap.django_here(side="both", db=args.db) as db:
        from gancaptcha_field.conf import conf
        from gancaptcha_field.supply import registry

        model_dir = conf.MODEL_DIR
        assert model_dir is not None  # benchmarks/settings.py sets it
        models_ok = registry.inspect_model_dir(model_dir).ok
        if not models_ok:
            log(f"models in {model_dir} are not usable: sections needing them skip")
        results["environment"] = environment(db)
        results["environment"]["quick"] = args.quick
        results["environment"]["model_dir"] = str(model_dir)
        run = Run(args.quick, skip, model_dir, models_ok, results)
        for name, section in SECTIONS.items():
            if name not in skip:
                results[name] = section.run(run)
    ran = [
        section
        for name, section in SECTIONS.items()
        if name in results and "skipped" not in results[name]
    ]
    met: dict[str, bool] = {}
    for section in ran:
        if hasattr(section, "targets"):
            met.update(section.targets(results))
    results["targets"] = {"met": met}
    report = "\n\n".join(filter(None, (section.report(results) for section in ran)))
    print(report)
    print()
    for name, reached in met.items():
        print(f"target {name}: {'met' if reached else 'NOT met'}")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkstemp(dir=args.output.parent, suffix=".tmp")[1])
    tmp.write_text(json.dumps({**results, "table": report}, indent=2) + "\n")
    os.replace(tmp, args.output)
    print(f"\nWrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
