"""install: what a site installs. A fresh virtualenv with the base install (the
package built from this tree, no extras), its total size, and whether it draws
a challenge with TensorFlow unimportable; against a fresh virtualenv with
django-simple-captcha. uv builds both (it links from its cache: seconds once
the wheels are in it)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.bootstrap import ROOT, log
from benchmarks.sections import Run, cells, fmt

# The target for the base install's virtualenv, in MB (10^6 bytes).
TARGET_MB = 300
PEER = "django-simple-captcha==0.7.0"  # requirements-bench.txt's pin

# Run in the new virtualenv, outside the source tree: TensorFlow cannot be
# imported, Django is set up with the app alone, and one challenge is drawn
# and rendered from the models the package carries.
DRAW_SCRIPT = r"""
import importlib.abc
import json
import sys


class NoTensorFlow(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("tensorflow", "keras"):
            raise ImportError(f"{name} is blocked: the base install must not need it")
        return None


sys.meta_path.insert(0, NoTensorFlow())
import django
from django.conf import settings

settings.configure(
    INSTALLED_APPS=["gancaptcha_field"],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
    USE_TZ=True,
)
django.setup()
from gancaptcha_field.supply.render import render_answers

(made,) = render_answers(["2718"])
print(json.dumps({
    "draws": made.png.startswith(b"\x89PNG") and made.png_2x.startswith(b"\x89PNG"),
    "png_bytes": len(made.png),
    "tensorflow": "tensorflow" in sys.modules,
}))
"""


def _uv() -> str | None:
    beside = Path(sys.executable).parent / "uv"
    return str(beside) if beside.exists() else shutil.which("uv")


def _clean_env() -> dict[str, str]:
    """This environment without what points at the source tree or the venv."""
    env = dict(os.environ)
    for name in ("PYTHONPATH", "DJANGO_SETTINGS_MODULE", "VIRTUAL_ENV"):
        env.pop(name, None)
    return env


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        args, cwd=cwd, env=_clean_env(), capture_output=True, text=True, timeout=1200
    )
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{result.stderr[-2000:]}")
    return result


def tree_bytes(path: Path) -> int:
    """Bytes of the files under ``path``, a file hard-linked twice counted once."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for folder, _, names in os.walk(path):
        for name in names:
            stat = os.lstat(os.path.join(folder, name))
            if (stat.st_dev, stat.st_ino) not in seen:
                seen.add((stat.st_dev, stat.st_ino))
                total += stat.st_size
    return total


def source_copy(into: Path) -> Path:
    """What the wheel is built from, copied, so the tree gets no build files."""
    src = into / "src"
    src.mkdir()
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "gancaptcha_field", src / "gancaptcha_field", ignore=ignore)
    shutil.copytree(
        ROOT / "ml_models", src / "ml_models", ignore=shutil.ignore_patterns("data")
    )
    return src


def venv_with(uv: str, home: Path, requirement: str) -> dict[str, Any]:
    """A new virtualenv at ``home`` holding ``requirement``: its size in MB."""
    _run([uv, "venv", "--quiet", "--python", sys.executable, str(home)], home.parent)
    python = home / "bin" / "python"
    _run([uv, "pip", "install", "--quiet", "--python", str(python), requirement], home)
    return {"mb": tree_bytes(home) / 1e6, "python": str(python)}


def run(ctx: Run) -> dict[str, Any]:
    uv = _uv()
    if uv is None:
        return {"skipped": "uv not installed (requirements-dev.txt)"}
    log("install size: fresh virtualenvs (uv)")
    with tempfile.TemporaryDirectory(prefix="gancaptcha-install-") as tmp:
        base = Path(tmp)
        ours = venv_with(uv, base / "ours", str(source_copy(base)))
        drew = _run([ours.pop("python"), "-c", DRAW_SCRIPT], base)
        ours.update(json.loads(drew.stdout.strip().splitlines()[-1]))
        peer = venv_with(uv, base / "peer", PEER)
        peer.pop("python")
    return {"ours": ours, "peer": peer, "target_mb": TARGET_MB}


def report(results: dict[str, Any]) -> str:
    found = results["install"]
    ours, peer = found["ours"], found["peer"]
    lines = [
        "| A fresh virtualenv (uv) | MB | x peer | draws a challenge, "
        "TensorFlow blocked |",
        "|---|---:|---:|---|",
        cells(PEER.replace("==", " "), fmt(peer["mb"], ".0f"), "1.00", "—"),
        cells(
            "gancaptcha-field, base install (no extras)",
            fmt(ours["mb"], ".0f"),
            fmt(ours["mb"] / peer["mb"], ".2f"),
            "yes" if ours["draws"] and not ours["tensorflow"] else "NO",
        ),
    ]
    target = found["target_mb"]
    lines.append(f"\nTarget: the base install at most {target} MB, drawing.")
    return "\n".join(lines)


def targets(results: dict[str, Any]) -> dict[str, bool]:
    found = results.get("install", {})
    if "ours" not in found:
        return {}
    ours = found["ours"]
    return {
        "base_install_at_most_300_mb": ours["mb"] <= found["target_mb"],
        "base_install_draws_without_tensorflow": bool(ours["draws"])
        and not ours["tensorflow"],
    }
