"""Serving never needs TensorFlow: it draws with ONNX Runtime, or from the pool.

The base install (no [train] extra) has no TensorFlow, Keras or matplotlib.
These tests run such processes for real: plain Python, a SQLite file, no
PostgreSQL. One draws with the shipped models in a process where importing
TensorFlow or Keras fails; another serves only the pool (GANCAPTCHA_SOURCE = "pool"),
filled with PNGs that Pillow made from fixed arrays. Each serves the signup
page, its image and a wrong and a right answer through Django's test client.
"""

from __future__ import annotations

from pathlib import Path

from tests.services import run_worker

ROOT = Path(__file__).resolve().parent.parent

HEAVY = ("tensorflow", "keras", "matplotlib")


WORKER = r"""
import json
import sys

import numpy as np

from tests.utils import start_sqlite_worker

start_sqlite_worker(
    sys.argv[1],
    GANCAPTCHA_SOURCE="pool",
    GANCAPTCHA_PRELOAD="auto",  # pool-only must win over it
)

from django.test import Client

from gancaptcha_field.conf import conf
from gancaptcha_field.stores import Rendered
from gancaptcha_field.supply import pool
from gancaptcha_field.supply.render import compose_png
from tests.utils import signup_walk

# Fixed digit arrays (not drawn by any model): one distinct image per answer.
rng = np.random.default_rng(20261129)
answers = ["1234", "5678", "9012", "3456"]
by_png = {}
rows = []
for answer in answers:
    digits = rng.integers(0, 256, (4, 28, 28), dtype=np.uint8)
    png = compose_png(digits, conf.IMAGE_SCALE)
    png_2x = compose_png(digits, 2 * conf.IMAGE_SCALE)
    by_png[png] = answer
    rows.append(Rendered(answer=answer, png=png, png_2x=png_2x))
pool.put(rows)

client = Client()
pooled = []


def answer_of(page, image):
    answer = by_png.get(image.content)
    pooled.append(answer is not None)
    return answer


report = {"steps": signup_walk(client, answer_of)}
report["steps"]["image_is_pooled"] = all(pooled)
report["steps"]["how_it_works"] = client.get("/how-it-works/").status_code
report["modules"] = {name: name in sys.modules for name in sys.argv[2:]}
print(json.dumps(report))
"""


def test_pool_only_process_never_imports_tensorflow(tmp_path: Path) -> None:
    report, result = run_worker(WORKER, str(tmp_path / "pool_only.sqlite3"), *HEAVY)
    steps = report["steps"]
    assert steps["page"] == 200
    assert steps["image"] == [200, "image/png"]
    assert steps["image_is_pooled"]  # the page shows a challenge from the pool
    assert steps["wrong"] == [200, True]  # form shown again with the error
    assert steps["reused_key_image"] == 410  # the wrong answer used it up
    assert steps["right"] == [302, "/welcome/"]
    assert steps["how_it_works"] == 200
    assert report["modules"] == dict.fromkeys(HEAVY, False), result.stderr


IMPORT_ALL = r"""
import importlib
import json
import pkgutil
import sys

import django
from django.conf import settings

import tests.settings as base

settings.configure(**{n: getattr(base, n) for n in dir(base) if n.isupper()})
django.setup()

import gancaptcha_field
import gancaptcha_lab

names = sorted(
    info.name
    for package in (gancaptcha_field, gancaptcha_lab)
    for info in pkgutil.walk_packages(package.__path__, package.__name__ + ".")
    if not info.name.startswith("gancaptcha_field.training")
)
for name in names:
    importlib.import_module(name)
heavy = sorted({m.split(".")[0] for m in sys.modules} & set(sys.argv[1:]))
print(json.dumps({"imported": names, "heavy": heavy}))
"""


def test_no_module_outside_training_imports_tensorflow_when_imported() -> None:
    report, _ = run_worker(IMPORT_ALL, *HEAVY)
    # The lab, the commands and the views are all among them.
    assert "gancaptcha_lab.attack" in report["imported"]
    assert (
        "gancaptcha_field.management.commands.train_captcha_models"
        in report["imported"]
    )
    assert report["heavy"] == []


# Installed as sitecustomize: from the interpreter's start, importing any of
# these (or a submodule) raises ImportError, as on a base install.
BLOCKER = r"""
import importlib.abc
import sys

BLOCKED = ("tensorflow", "keras", "tf2onnx")


class _Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} is blocked: serving must not need it")
        return None


sys.meta_path.insert(0, _Blocker())
"""

DRAWING_WORKER = r"""
import json
import sys

for name in ("tensorflow", "keras"):
    try:
        __import__(name)
    except ImportError:
        pass
    else:
        raise SystemExit(f"{name} imported: the blocker is not installed")

import numpy as np

from tests.utils import start_sqlite_worker

start_sqlite_worker(
    sys.argv[1],
    GANCAPTCHA_PRELOAD=True,  # ready() loads the models, once
    GANCAPTCHA_HARDEN=True,
    GANCAPTCHA_TRAP=True,
)

from django.core.management import call_command
from django.test import Client

from gancaptcha_field import constants
from gancaptcha_field.supply import registry
from gancaptcha_field.testing import solve
from tests.utils import signup_walk
report = {"steps": {}}
reg = registry.get_registry()
report["loaded_in_ready"] = reg._status.ok and reg._supply is not None

# Draw and check: every digit shows its label to both classifiers.
labels = list(range(constants.NUM_CLASSES))
digits, reader_conf, verifier_conf = reg.draw_with_details(labels)
reader_probs, verifier_probs = reg.read(digits.astype(np.float32) / 255.0)
report["drawn_labels_read_back"] = (
    reader_probs.argmax(1).tolist() == labels
    and verifier_probs.argmax(1).tolist() == labels
)
report["drawn_confident"] = bool(
    (reader_conf >= constants.DEFAULT_READER_THRESHOLD).all()
    and (verifier_conf >= constants.DEFAULT_VERIFIER_THRESHOLD).all()
)

report["steps"] = signup_walk(
    Client(), lambda page, image: solve(page)["captcha_1"]
)
report["inference_batches"] = reg.inference_batches

# Exporting is training's work: without it, a clear error, not a traceback.
from django.core.management import CommandError

try:
    call_command("captcha_export_onnx", "--model-dir", sys.argv[1] + ".absent")
except CommandError as exc:
    report["export_refused"] = str(exc)
report["modules"] = {name: name in sys.modules for name in sys.argv[2:]}
report["onnxruntime"] = "onnxruntime" in sys.modules
print(json.dumps(report))
"""


def test_drawing_serving_and_checking_work_where_tensorflow_cannot_import(
    tmp_path: Path,
) -> None:
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(BLOCKER)
    report, result = run_worker(
        DRAWING_WORKER, str(tmp_path / "drawing.sqlite3"), *HEAVY, path=[hooks]
    )
    assert report["loaded_in_ready"], result.stderr
    assert report["drawn_labels_read_back"]
    assert report["drawn_confident"]
    steps = report["steps"]
    assert steps["page"] == 200
    assert steps["image"] == [200, "image/png"] and steps["png"]
    assert steps["wrong"] == [200, True]  # form shown again with the error
    assert steps["reused_key_image"] == 410  # the wrong answer used it up
    assert steps["right"] == [302, "/welcome/"]
    assert report["inference_batches"] > 0  # the models drew, in this process
    assert report["onnxruntime"]
    assert "pip install 'gancaptcha-field[train]'" in report["export_refused"]
    assert report["modules"] == dict.fromkeys(HEAVY, False), result.stderr
