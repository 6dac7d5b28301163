"""The served package never imports the lab, and serving never imports training.

gancaptcha_lab is not in the wheel, so one import of it from gancaptcha_field
breaks every pip install; training needs the [train] extra. Read from the
sources (every import, however deep in a function) and checked for real in a
fresh interpreter.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.services import run_worker

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "gancaptcha_field"
# What may import training: training itself and the commands that make models.
TRAINING_COMMANDS = {
    "train_captcha_models",
    "captcha_export_onnx",
    "captcha_fit_latents",
}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(source: str, module: str, is_package: bool = False) -> set[str]:
    """Every module ``source`` imports, relative imports resolved, including
    ``importlib.import_module("...")`` with a literal name."""
    package = module if is_package else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and getattr(node.func, "attr", getattr(node.func, "id", None))
            in ("import_module", "__import__")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names.add(node.args[0].value)
    return names


def _is_under(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def _serving(module: str) -> bool:
    return not _is_under(module, "gancaptcha_field.training") and (
        module.rpartition(".")[2] not in TRAINING_COMMANDS
    )


SOURCES = sorted(PACKAGE.rglob("*.py"))
SERVING = [module_name(p) for p in SOURCES if _serving(module_name(p))]


def test_the_reader_sees_every_kind_of_import() -> None:
    source = """
import gancaptcha_lab.attack
from gancaptcha_lab import panel
from ..training import data
from . import sheets
def later():
    import importlib
    importlib.import_module("gancaptcha_lab.audio")
"""
    names = imported(source, "gancaptcha_field.supply.harden")
    assert {
        "gancaptcha_lab.attack",
        "gancaptcha_lab.panel",
        "gancaptcha_field.training.data",
        "gancaptcha_field.supply.sheets",
        "gancaptcha_lab.audio",
    } <= names
    assert "gancaptcha_field.training" in imported(
        "from .training import x", "gancaptcha_field", is_package=True
    )


def test_the_walk_covers_the_package() -> None:
    names = {module_name(p) for p in SOURCES}
    assert {"gancaptcha_field.fields", "gancaptcha_field.supply.render"} <= names
    assert "gancaptcha_field.training.report" in names
    assert not [n for n in names if _is_under(n, "gancaptcha_field.lab")]


@pytest.mark.parametrize("path", SOURCES, ids=module_name)
def test_no_module_of_the_package_imports_the_lab(path: Path) -> None:
    module = module_name(path)
    names = imported(path.read_text(), module, path.name == "__init__.py")
    assert not [n for n in names if _is_under(n, "gancaptcha_lab")]
    if _serving(module):
        assert not [n for n in names if _is_under(n, "gancaptcha_field.training")]


# Django on the tests' settings without the lab's app, then every serving
# module (argv) imported: neither the lab nor training may come along.
IMPORT_SERVING = r"""
import importlib
import json
import sys

import django
from django.conf import settings

import tests.settings as base

values = {n: getattr(base, n) for n in dir(base) if n.isupper()}
values["INSTALLED_APPS"] = [a for a in base.INSTALLED_APPS if a != "gancaptcha_lab"]
settings.configure(**values)
django.setup()

names = sys.argv[1:]
for name in names:
    importlib.import_module(name)
loaded = sorted(
    m for m in sys.modules
    if m.split(".")[0] == "gancaptcha_lab" or m.startswith("gancaptcha_field.training")
)
print(json.dumps({"imported": names, "loaded": loaded}))
"""


def test_importing_every_serving_module_loads_neither_lab_nor_training() -> None:
    report, _ = run_worker(IMPORT_SERVING, *SERVING)
    assert "gancaptcha_field.ratelimit" in report["imported"]
    assert "gancaptcha_field.management.commands.captcha_cleanup" in report["imported"]
    assert report["loaded"] == []


def test_the_demo_runs_without_the_lab(tmp_path: Path) -> None:
    """From a tree holding only the app and the demo, the demo's settings
    leave the lab out; with the lab beside them, they add it."""
    for name in ("gancaptcha_field", "demo_site"):
        (tmp_path / name).symlink_to(ROOT / name)
    code = (
        "import demo_site.settings as s; "
        "print(s.INSTALLED_APPS.count('gancaptcha_lab'))"
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    env.pop("DJANGO_SETTINGS_MODULE", None)

    def lab_apps() -> str:
        result = subprocess.run(
            [sys.executable, "-c", code],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    assert lab_apps() == "0"
    (tmp_path / "gancaptcha_lab").symlink_to(ROOT / "gancaptcha_lab")
    assert lab_apps() == "1"
