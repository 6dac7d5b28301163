"""A pip user's first hour: build the release, install it, add the app, serve.

Builds the sdist and the wheel (`python -m build`, as `make dist`) from a copy
of the sources and checks them as PyPI would; installs each, the wheel and the
sdist, without extras (the base install: Django, Pillow, numpy, ONNX Runtime)
into a new virtualenv, makes a project with ``django-admin startproject``,
follows README's "Add it to your project" and passes when ``manage.py check``
finds no issue and runserver (real HTTP) serves a page with the field and its
image, drawn by the ONNX models that came inside the package, with no
TensorFlow installed.

The dependencies are installed by uv, which keeps them in its cache
(UV_CACHE_DIR, by default ~/.cache/uv) and links them into each new
virtualenv: a minute on the first run on a machine, seconds after.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tarfile
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.services import stop_process, unused_port
from tests.utils import find_tag, find_tags

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
UV = Path(sys.executable).parent / "uv"  # requirements-dev.txt
README = (ROOT / "README.md").read_text()

# README's "Add it to your project", line for line; test_readme_steps_are_these
# keeps the two in step.
SETTINGS_LINE = 'INSTALLED_APPS = [..., "gancaptcha_field"]'
MIDDLEWARE_LINE = (
    'MIDDLEWARE = [..., "gancaptcha_field.ratelimit.RateLimitMiddleware"]'
    "  # rate limits"
)
URLS_IMPORT = "from django.urls import include, path"
URLS_LINE = 'urlpatterns = [..., path("gancaptcha/", include("gancaptcha_field.urls"))]'
FORMS = """from django.contrib.auth.forms import UserCreationForm

from gancaptcha_field.fields import GanCaptchaField


class SignupForm(UserCreationForm):
    captcha = GanCaptchaField()
"""

# A page that shows the form, as the README asks ({{ form.media }} included).
VIEWS = '''from django.http import HttpResponse
from django.template import engines

from mysite.forms import SignupForm

PAGE = """<!doctype html><title>Sign up</title>{{ form.media }}
<form method="post">{% csrf_token %}{{ form.as_p }}<button>Sign up</button></form>"""


def signup(request):
    page = engines["django"].from_string(PAGE)
    return HttpResponse(page.render({"form": SignupForm()}, request))
'''


def _section(title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## )", README, re.S | re.M)
    assert match, f"README has no section {title!r}"
    return match.group(1)


def test_readme_steps_are_these() -> None:
    steps = _section("Add it to your project")
    lines = (SETTINGS_LINE, MIDDLEWARE_LINE, URLS_IMPORT, URLS_LINE)
    for line in (*lines, *FORMS.strip().splitlines()):
        assert line in steps, f"README's 'Add it to your project' lacks {line!r}"
    assert "python manage.py migrate" in steps


def _run(
    args: list[str | Path], cwd: Path, timeout: float = 900
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, (
        f"{' '.join(map(str, args))} failed:\n{result.stdout}\n{result.stderr}"
    )
    return result


def _clean_env() -> dict[str, str]:
    """This process's environment without what points at the source tree."""
    env = dict(os.environ)
    for name in ("PYTHONPATH", "DJANGO_SETTINGS_MODULE", "VIRTUAL_ENV"):
        env.pop(name, None)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


# What `python -m build` reads: the sources a release is made from (the
# attacker lab too, where it is a package of its own, so that the wheel is seen
# to leave it out).
SOURCES = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "CHANGELOG.md",
           "SECURITY.md", "LICENSE", "requirements.txt")  # fmt: skip
PACKAGES = ("gancaptcha_field", "gancaptcha_lab")


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """`python -m build` on a copy of the sources: the sdist, and the wheel
    built from that sdist (so the sdist is seen to hold what the wheel needs)."""
    src = tmp_path_factory.mktemp("src")
    for name in SOURCES:
        shutil.copy2(ROOT / name, src / name)
    caches = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in PACKAGES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, ignore=caches)
    # A development tree's leftovers, which the sdist must leave out.
    (src / "gancaptcha_field" / "__pycache__").mkdir(exist_ok=True)
    (src / "gancaptcha_field" / "__pycache__" / "conf.cpython-311.pyc").write_bytes(b"")
    shutil.copytree(ROOT / "ml_models", src / "ml_models")
    dist = tmp_path_factory.mktemp("dist")
    # uv installs the build backend from its cache (pip would fetch it anew).
    _run([sys.executable, "-m", "build", "--installer", "uv", "--outdir", dist, src],
         src)  # fmt: skip
    (sdist,) = dist.glob("gancaptcha_field-*.tar.gz")
    (wheel,) = dist.glob("gancaptcha_field-*.whl")
    return {"sdist": sdist, "wheel": wheel}


@pytest.fixture(scope="module")
def wheel(dists: dict[str, Path]) -> Path:
    return dists["wheel"]


def _version() -> str:
    init = (ROOT / "gancaptcha_field" / "__init__.py").read_text()
    match = re.search(r'^__version__ = "([^"]+)"$', init, re.M)
    assert match, "gancaptcha_field/__init__.py has no __version__"
    return match.group(1)


def test_the_version_comes_from_one_place(dists: dict[str, Path]) -> None:
    version = _version()
    assert dists["sdist"].name == f"gancaptcha_field-{version}.tar.gz"
    assert dists["wheel"].name == f"gancaptcha_field-{version}-py3-none-any.whl"
    assert 'dynamic = ["version"]' in (ROOT / "pyproject.toml").read_text()


def test_twine_check_passes(dists: dict[str, Path]) -> None:
    result = _run(
        [sys.executable, "-m", "twine", "check", "--strict", *dists.values()], ROOT
    )
    assert result.stdout.count("PASSED") == 2, result.stdout


def test_the_metadata_names_the_supported_versions(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        metadata = archive.read(name).decode()
    for classifier in (
        "Framework :: Django :: 5.2",
        "Framework :: Django :: 6.0",
        "Framework :: Django :: 6.1",
        "Programming Language :: Python :: 3.11",
        "Programming Language :: Python :: 3.12",
    ):
        assert f"Classifier: {classifier}\n" in metadata
    assert "Requires-Dist: Django<7,>=5.2\n" in metadata
    assert "Requires-Python: >=3.11\n" in metadata


def test_the_sdist_holds_the_sources_and_no_leftovers(dists: dict[str, Path]) -> None:
    with tarfile.open(dists["sdist"]) as archive:
        names = {n.partition("/")[2] for n in archive.getnames()}
    for name in (
        "pyproject.toml", "setup.py", "MANIFEST.in", "CHANGELOG.md",
        "gancaptcha_field/py.typed",
        "gancaptcha_field/templates/gancaptcha_field/widget.html",
        "gancaptcha_field/locale/es/LC_MESSAGES/django.mo",
        "ml_models/generator.onnx", "ml_models/reader.onnx",
        "ml_models/verifier.onnx", "ml_models/metadata.json",
    ):  # fmt: skip
        assert name in names, name
    assert [n for n in names if n.startswith("gancaptcha_field/voice/")]
    assert [n for n in names if n.startswith("gancaptcha_field/static/")]
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert not [n for n in names if n.endswith(("mnist.npz", ".png", ".sqlite3"))]


def test_wheel_carries_the_models_but_not_mnist(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = (
        "generator.keras",
        "reader.keras",
        "verifier.keras",
        "generator.onnx",
        "reader.onnx",
        "verifier.onnx",
        "latents.npz",
    )
    for name in (*shipped, "metadata.json"):
        assert f"gancaptcha_field/shipped_models/{name}" in names
    assert "gancaptcha_field/py.typed" in names
    assert "gancaptcha_field/templates/gancaptcha_field/widget.html" in names
    assert "gancaptcha_field/migrations/0001_initial.py" in names
    # Neither MNIST (data/mnist.npz) nor the report pictures.
    assert not [n for n in names if n.endswith(("mnist.npz", ".png"))]


def test_wheel_leaves_the_lab_out(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert "gancaptcha_field/training/sheets.py" in names
    assert not [n for n in names if n.startswith("gancaptcha_lab")]
    assert not [n for n in names if "/lab/" in n]
    for command in ("captcha_attack", "captcha_panel", "captcha_sample"):
        assert f"gancaptcha_field/management/commands/{command}.py" not in names
    assert "gancaptcha_field/management/commands/captcha_cleanup.py" in names


@pytest.fixture(scope="module", params=["wheel", "sdist"])
def venv(
    request: pytest.FixtureRequest,
    dists: dict[str, Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> Path:
    """A new virtualenv with the wheel, or the sdist (built on install), and
    the base dependencies, nothing else."""
    home = tmp_path_factory.mktemp(f"venv-{request.param}")
    _run([sys.executable, "-m", "venv", "--without-pip", home], home)
    started = time.monotonic()
    # uv, because it links the files from its cache once they are in it.
    _run(
        [UV, "pip", "install", "--quiet", "--python", home / "bin" / "python",
         "--link-mode", "hardlink", dists[request.param]],
        home,
    )  # fmt: skip
    print(f"\n{request.param} test: installed in {time.monotonic() - started:.0f} s")
    return home


def test_the_installed_version_is_the_source_version(venv: Path) -> None:
    code = (
        "import importlib.metadata as m, gancaptcha_field as g; "
        "print(m.version('gancaptcha-field'), g.__version__)"
    )
    result = _run([venv / "bin" / "python", "-c", code], venv)
    assert result.stdout.split() == [_version(), _version()]


def test_the_base_install_has_no_tensorflow(venv: Path) -> None:
    code = (
        "import importlib.util as u; "
        "print([m for m in ('tensorflow', 'keras', 'tf2onnx') if u.find_spec(m)], "
        "bool(u.find_spec('onnxruntime')))"
    )
    result = _run([venv / "bin" / "python", "-c", code], venv)
    assert result.stdout.strip() == "[] True"


@pytest.fixture(scope="module")
def project(venv: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """django-admin startproject, then README's steps, then migrate."""
    home = tmp_path_factory.mktemp("project")
    _run([venv / "bin" / "django-admin", "startproject", "mysite", home], home)
    package = home / "mysite"
    settings = package / "settings.py"
    text = settings.read_text()
    assert "INSTALLED_APPS = [\n" in text
    # INSTALLED_APPS = [..., "gancaptcha_field"]
    text = text.replace(
        "INSTALLED_APPS = [\n", 'INSTALLED_APPS = [\n    "gancaptcha_field",\n'
    )
    # MIDDLEWARE = [..., "gancaptcha_field.ratelimit.RateLimitMiddleware"]
    head, _, tail = text.partition("MIDDLEWARE = [\n")
    assert tail, "startproject's settings have no MIDDLEWARE list"
    body, _, rest = tail.partition("]\n")
    middleware = '    "gancaptcha_field.ratelimit.RateLimitMiddleware",\n'
    settings.write_text(f"{head}MIDDLEWARE = [\n{body}{middleware}]\n{rest}")
    urls = package / "urls.py"
    text = urls.read_text()
    assert "from django.urls import path\n" in text
    text = text.replace("from django.urls import path\n", URLS_IMPORT + "\n")
    text = text.replace(
        "urlpatterns = [\n",
        'urlpatterns = [\n    path("gancaptcha/", include("gancaptcha_field.urls")),\n'
        '    path("signup/", views.signup),\n',
    )
    urls.write_text("from mysite import views\n" + text)
    (package / "forms.py").write_text(FORMS)
    (package / "views.py").write_text(VIEWS)
    _run([venv / "bin" / "python", "manage.py", "migrate", "--noinput"], home)
    return home


def test_check_reports_no_issue(venv: Path, project: Path) -> None:
    result = _run([venv / "bin" / "python", "manage.py", "check"], project)
    assert "System check identified no issues" in result.stdout, result.stderr


def test_models_come_from_the_installed_package(venv: Path, project: Path) -> None:
    code = "from gancaptcha_field.conf import conf; print(conf.MODEL_DIR)"
    result = _run([venv / "bin" / "python", "manage.py", "shell", "-c", code], project)
    model_dir = Path(result.stdout.strip().splitlines()[-1])
    assert model_dir.is_relative_to(venv), model_dir
    assert model_dir.name == "shipped_models"
    for name in ("generator.onnx", "reader.onnx", "verifier.onnx", "metadata.json"):
        assert (model_dir / name).stat().st_size > 0, name


@pytest.fixture
def server(venv: Path, project: Path) -> Iterator[str]:
    """manage.py runserver (it loads the shipped models first), over real HTTP."""
    port = unused_port()
    log = (project / "runserver.log").open("w")
    process = subprocess.Popen(
        [venv / "bin" / "python", "manage.py", "runserver", "--noreload",
         f"127.0.0.1:{port}"],
        cwd=project,
        env=_clean_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            assert process.poll() is None, (project / "runserver.log").read_text()
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail(
                "runserver did not start:\n" + (project / "runserver.log").read_text()
            )
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process(process, timeout=30)
        log.close()


def test_a_page_with_the_field_serves_its_image(server: str) -> None:
    with urllib.request.urlopen(f"{server}/signup/", timeout=120) as response:
        assert response.status == 200
        html = response.read().decode()
    assert not find_tags(html, "p", **{"class": "gancaptcha-unavailable"})
    src = find_tag(html, "img", **{"class": "gancaptcha-image"})["src"]
    assert src and src.startswith("/gancaptcha/")
    with urllib.request.urlopen(f"{server}{src}", timeout=60) as image:
        assert image.status == 200
        assert image.headers["Content-Type"] == "image/png"
        assert image.read().startswith(b"\x89PNG\r\n\x1a\n")
