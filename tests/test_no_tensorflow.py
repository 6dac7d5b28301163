"""A pool-only process serves pages, images and answers without TensorFlow.

The base install (no [models] extra) has no TensorFlow, Keras or matplotlib, so
a web host that serves only the pool must never import them. This runs such a
process for real: plain Python, a SQLite file, GANCAPTCHA_POOL_ONLY = True, no
PostgreSQL. It fills the pool with PNGs that Pillow made from fixed arrays,
serves the signup page, its image, a wrong and a right answer and the "how it
works" page through Django's test client, then reports what it imported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

HEAVY = ("tensorflow", "keras", "matplotlib")

WORKER = r"""
import json
import sys

import numpy as np

import django
from django.conf import settings

import tests.settings as base

values = {name: getattr(base, name) for name in dir(base) if name.isupper()}
values["DATABASES"] = {
    "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": sys.argv[1]}
}
values["GANCAPTCHA_POOL_ONLY"] = True
values["GANCAPTCHA_PRELOAD"] = "auto"  # pool-only must win over it
settings.configure(**values)
django.setup()

from django.core.management import call_command
from django.test import Client
from django.test.utils import setup_test_environment

from gancaptcha_field.conf import conf
from gancaptcha_field.stores import Rendered
from gancaptcha_field.supply import pool
from gancaptcha_field.supply.render import compose_png
from tests.utils import find_tag, find_tags

setup_test_environment()  # responses carry their template context
call_command("migrate", verbosity=0)

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
report = {"steps": {}}


def show_form():
    response = client.get("/signup/")
    html = response.content.decode()
    key = find_tag(html, "input", name="captcha_0")["value"]
    token = find_tags(html, "input", name="csrfmiddlewaretoken")[0]["value"]
    src = find_tag(html, "img", **{"class": "gancaptcha-image"})["src"]
    image = client.get(src)
    return response.status_code, key, token, image


def post(key, token, answer):
    return client.post(
        "/signup/",
        {
            "csrfmiddlewaretoken": token,
            "username": "ada",
            "password1": "correct-horse-battery-staple-42",
            "password2": "correct-horse-battery-staple-42",
            "captcha_0": key,
            "captcha_1": answer,
        },
    )


status, key, token, image = show_form()
answer = by_png.get(image.content)
report["steps"]["page"] = status
report["steps"]["image"] = [image.status_code, image["Content-Type"]]
report["steps"]["image_is_pooled"] = answer is not None
wrong = "0000" if answer != "0000" else "1111"
response = post(key, token, wrong)
report["steps"]["wrong"] = [
    response.status_code,
    "captcha" in response.context["form"].errors,
]
report["steps"]["reused_key_image"] = client.get(image.wsgi_request.path).status_code

status, key, token, image = show_form()
response = post(key, token, by_png[image.content])
report["steps"]["right"] = [response.status_code, response.get("Location")]
report["steps"]["how_it_works"] = client.get("/how-it-works/").status_code
report["modules"] = {name: name in sys.modules for name in sys.argv[2:]}
print(json.dumps(report))
"""


def test_pool_only_process_never_imports_tensorflow(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    result = subprocess.run(
        [sys.executable, "-c", WORKER, str(tmp_path / "pool_only.sqlite3"), *HEAVY],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
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

names = sorted(
    info.name
    for info in pkgutil.walk_packages(gancaptcha_field.__path__, "gancaptcha_field.")
    if not info.name.startswith("gancaptcha_field.training")
)
for name in names:
    importlib.import_module(name)
heavy = sorted({m.split(".")[0] for m in sys.modules} & set(sys.argv[1:]))
print(json.dumps({"imported": names, "heavy": heavy}))
"""


def test_no_module_outside_training_imports_tensorflow_when_imported() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    result = subprocess.run(
        [sys.executable, "-c", IMPORT_ALL, *HEAVY],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    # The lab, the commands and the views are all among them.
    assert "gancaptcha_field.lab.attack" in report["imported"]
    assert (
        "gancaptcha_field.management.commands.train_captcha_models"
        in report["imported"]
    )
    assert report["heavy"] == []
