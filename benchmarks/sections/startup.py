"""startup: a worker's start-up (django.setup(), so ready() and any model load)
and its resident memory, the peer's against ours, each in a new process."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from typing import Any

from benchmarks.bootstrap import ROOT, SETTINGS, log
from benchmarks.sections import Run

STARTUP_SCRIPT = """
import json, time
start = time.perf_counter()
import django
django.setup()
ready = time.perf_counter() - start
from django.test import Client
client = Client()
status = client.get(PAGE).status_code
first = time.perf_counter() - start
rss = pss = 0.0
for line in open("/proc/self/status"):
    if line.startswith("VmRSS:"):
        rss = int(line.split()[1]) / 1024
for line in open("/proc/self/smaps_rollup"):
    if line.startswith("Pss:"):
        pss = int(line.split()[1]) / 1024
import sys
print(json.dumps({"setup_s": ready, "first_page_s": first, "status": status,
                  "rss_mib": rss, "pss_mib": pss,
                  "tensorflow": "tensorflow" in sys.modules}))
"""


def run(ctx: Run) -> dict[str, Any]:
    """Each configuration's worker start-up in a new process, the median of a few."""
    log("start-up")
    configs = {
        "peer": ({"BENCH_SIDE": "peer"}, "/peer/signup/"),
        "ours_pool_only": (
            {"BENCH_SIDE": "ours", "BENCH_POOL_ONLY": "1", "BENCH_POOL_SIZE": "1"},
            "/ours/signup/",
        ),
    }
    if ctx.models_ok:
        configs["ours_models_loaded"] = (
            {"BENCH_SIDE": "ours", "BENCH_PRELOAD": "1", "BENCH_POOL_SIZE": "0"},
            "/ours/signup/",
        )
    out: dict[str, Any] = {}
    for name, (env, page) in configs.items():
        runs = []
        for _ in range(ctx.pick(3, 1)):
            script = STARTUP_SCRIPT.replace("PAGE", repr(page))
            proc = subprocess.run(
                [sys.executable, "-c", script],
                cwd=ROOT,
                env={
                    **os.environ,
                    "DJANGO_SETTINGS_MODULE": SETTINGS,
                    **env,
                },
                capture_output=True,
                text=True,
                timeout=600,
            )
            if proc.returncode != 0:
                raise RuntimeError(f"start-up run {name} failed:\n{proc.stderr}")
            runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        out[name] = {
            key: statistics.median(r[key] for r in runs)
            for key in ("setup_s", "first_page_s", "rss_mib", "pss_mib")
        }
        out[name]["tensorflow_imported"] = runs[0]["tensorflow"]
        out[name]["page_status"] = runs[0]["status"]
    return out


def report(results: dict[str, Any]) -> str:
    startup = results.get("startup", {})
    lines: list[str] = []
    if startup:
        lines += [
            "| Worker start-up (django.setup(), ready()) | seconds | RSS MiB | "
            "PSS MiB | TensorFlow loaded |",
            "|---|---:|---:|---:|---|",
        ]
        for label, key in (
            ("django-simple-captcha 0.7.0", "peer"),
            ('Ours, pool-only (GANCAPTCHA_SOURCE = "pool")', "ours_pool_only"),
            ("Ours, models loaded (GANCAPTCHA_PRELOAD)", "ours_models_loaded"),
        ):
            row = startup.get(key)
            if row:
                lines.append(
                    f"| {label} | {row['setup_s']:.2f} | {row['rss_mib']:.0f} "
                    f"| {row['pss_mib']:.0f} "
                    f"| {'yes' if row['tensorflow_imported'] else 'no'} |"
                )
    return "\n".join(lines)
