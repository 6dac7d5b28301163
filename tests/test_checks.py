from __future__ import annotations

import json
from pathlib import Path

import pytest
from pytest_django import Settings

from django.core import checks as django_checks

from gancaptcha_field import checks, constants


def ids(messages: list[django_checks.CheckMessage]) -> list[str]:
    return [message.id or "" for message in messages]


def test_shipped_models_pass() -> None:
    assert checks.check_models() == []


def test_w001_models_missing(settings: Settings, tmp_path: Path) -> None:
    settings.GANCAPTCHA_MODEL_DIR = tmp_path
    messages = checks.check_models()
    assert ids(messages) == ["gancaptcha_field.W001"]
    assert messages[0].level == django_checks.WARNING
    assert messages[0].hint == checks.Hints.W001
    assert "GANCAPTCHA_MODEL_DIR unset" in messages[0].hint
    assert str(tmp_path) in messages[0].msg


def test_w001_when_the_directory_does_not_exist(
    settings: Settings, tmp_path: Path
) -> None:
    settings.GANCAPTCHA_MODEL_DIR = tmp_path / "nowhere"
    assert ids(checks.check_models()) == ["gancaptcha_field.W001"]


def test_no_w001_on_pool_only_hosts(settings: Settings, tmp_path: Path) -> None:
    settings.GANCAPTCHA_MODEL_DIR = tmp_path  # no model files
    settings.GANCAPTCHA_POOL_ONLY = True
    assert checks.check_models() == []  # they serve from the pool only
    settings.GANCAPTCHA_POOL_ONLY = False
    assert ids(checks.check_models()) == ["gancaptcha_field.W001"]


def test_no_e002_on_pool_only_hosts(settings: Settings) -> None:
    settings.GANCAPTCHA_MODEL_DIR = None
    del settings.BASE_DIR
    settings.GANCAPTCHA_POOL_ONLY = True
    assert checks.check_models() == []  # they need no model directory


@pytest.mark.parametrize(
    "metadata",
    [b"not json {", b"[1, 2]", json.dumps({"format_version": 999}).encode()],
)
def test_e001_models_incompatible_or_corrupt(
    settings: Settings, tmp_path: Path, metadata: bytes
) -> None:
    for name in constants.MODEL_FILES:
        (tmp_path / name).write_bytes(b"not a keras archive")
    (tmp_path / constants.METADATA_FILE).write_bytes(metadata)
    settings.GANCAPTCHA_MODEL_DIR = tmp_path
    messages = checks.check_models()
    assert ids(messages) == ["gancaptcha_field.E001"]
    assert messages[0].level == django_checks.ERROR


def test_e002_model_dir_not_configured(settings: Settings) -> None:
    settings.GANCAPTCHA_MODEL_DIR = None
    del settings.BASE_DIR
    messages = checks.check_models()
    assert ids(messages) == ["gancaptcha_field.E002"]
    assert messages[0].level == django_checks.ERROR


@pytest.mark.parametrize(
    ("test_mode", "debug", "expected"),
    [
        (True, False, ["gancaptcha_field.W002"]),
        (True, True, []),
        (False, False, []),
    ],
)
def test_w002_test_mode_in_production(
    settings: Settings, test_mode: bool, debug: bool, expected: list[str]
) -> None:
    settings.GANCAPTCHA_TEST_MODE = test_mode
    settings.DEBUG = debug
    assert ids(checks.check_test_mode()) == expected


def test_w003_urls_not_included(settings: Settings) -> None:
    assert checks.check_urls() == []
    settings.ROOT_URLCONF = "demo_site.signup.urls"
    messages = checks.check_urls()
    assert ids(messages) == ["gancaptcha_field.W003"]
    assert messages[0].level == django_checks.WARNING


def test_checks_are_registered_once(settings: Settings) -> None:
    ours = {checks.check_models, checks.check_test_mode, checks.check_urls}
    before = django_checks.registry.registry.get_checks()
    assert ours <= set(before)
    checks.register()
    checks.register()
    assert len(django_checks.registry.registry.get_checks()) == len(before)


def test_checks_run_through_django(settings: Settings) -> None:
    settings.GANCAPTCHA_TEST_MODE = True
    settings.DEBUG = False
    found = ids(django_checks.run_checks(tags=[checks.TAG]))
    assert "gancaptcha_field.W002" in found
