"""Django 6 readiness where only Python 3.11 (so only Django 5.2) runs.

Django's own deprecation warnings are errors in the suite, and
scripts/check_django_api.py finds every Django name our code uses in the
6.0 and 6.1 sources (read from their wheels, never imported).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pytest

from django.utils import deprecation

from scripts import check_django_api as api

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    "category",
    [
        deprecation.RemovedInNextVersionWarning,
        deprecation.RemovedAfterNextVersionWarning,
    ],
)
@pytest.mark.parametrize("module", ["gancaptcha_field.fields", "tensorflow.python.x"])
def test_djangos_deprecations_are_errors_wherever_raised(
    category: type[Warning], module: str
) -> None:
    # The ini's third-party ignores (tensorflow.*, keras.*, ...) must not
    # swallow a Django deprecation raised under their modules' names.
    with pytest.raises(category, match="gone in the next Django"):
        warnings.warn_explicit("gone in the next Django", category, "x.py", 1, module)


def _fake_django() -> api.Source:
    files = {
        "django/__init__.py": b"VERSION = (9, 9)\n",
        "django/utils/__init__.py": b"",
        "django/utils/html.py": b"def format_html(s, *a): ...\n",
        "django/forms/__init__.py": b"from django.forms.fields import *\n",
        "django/forms/fields.py": b"class CharField: ...\n__all__ = ['CharField']\n",
    }
    return api.Source("fake", files)


def test_the_check_reports_each_missing_name(tmp_path: Path) -> None:
    code = tmp_path / "uses.py"
    code.write_text(
        "import django\n"
        "from django import forms\n"
        "from django.utils.html import format_html, escape\n"
        "from django.utils.itercompat import is_iterable\n"
        "MIDDLEWARE = ['django.middleware.csrf.CsrfViewMiddleware']\n"
        "LOGGER = 'django.request'\n"
        "x = forms.CharField, forms.URLField, django.VERSION, django.__file__\n"
    )
    absent = {use.name for use in api.missing(_fake_django(), [code])}
    assert absent == {
        "django.utils.html:escape",
        "django.utils.itercompat",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.forms:URLField",
    }


def test_our_code_resolves_against_the_installed_django() -> None:
    # The resolver's own check: Django 5.2 runs this code, so nothing is missing.
    files = list(api.our_files([ROOT / name for name in api.OURS]))
    assert len(files) > 100
    assert api.missing(api.Source.installed(), files) == []


@pytest.fixture(scope="module", params=["6.0", "6.1"])
def django6(request: pytest.FixtureRequest) -> api.Source:
    try:
        wheel = api.fetch_wheel(request.param, api.CACHE)
    except SystemExit as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI needs the Django {request.param} wheel: {exc}")
        pytest.skip(f"no Django {request.param} wheel (offline; CI=true fails): {exc}")
    return api.Source.from_wheel(wheel)


def test_our_code_resolves_against_django_6(django6: api.Source) -> None:
    files = list(api.our_files([ROOT / name for name in api.OURS]))
    assert api.missing(django6, files) == []


def test_django_6_wheels_lack_what_6_0_removed(
    django6: api.Source, tmp_path: Path
) -> None:
    # The wheels are real 6.x: what the 6.0 release notes removed is absent
    # from them, and present in the 5.2 this suite runs.
    code = tmp_path / "removed.py"
    code.write_text(
        "from django.utils.itercompat import is_iterable\n"
        "R = 'django.forms.renderers.DjangoDivFormRenderer'\n"
    )
    assert api.missing(api.Source.installed(), [code]) == []
    assert {use.name for use in api.missing(django6, [code])} == {
        "django.utils.itercompat",
        "django.forms.renderers.DjangoDivFormRenderer",
    }
