from __future__ import annotations

import json
from pathlib import Path

import pytest
from pytest_django import Settings

from django.core import checks as django_checks

from gancaptcha_field import checks, constants
from gancaptcha_field.conf import conf


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


def test_w004_models_not_exported_to_onnx(settings: Settings, tmp_path: Path) -> None:
    # A set trained by an older version: .keras files and metadata, no ONNX.
    shipped = Path(settings.BASE_DIR) / "ml_models"
    for name in (*constants.MODEL_FILES, constants.METADATA_FILE):
        (tmp_path / name).write_bytes((shipped / name).read_bytes())
    settings.GANCAPTCHA_MODEL_DIR = tmp_path
    messages = checks.check_models()
    assert ids(messages) == ["gancaptcha_field.W004"]
    assert messages[0].level == django_checks.WARNING
    assert messages[0].hint == checks.Hints.W004
    assert "captcha_export_onnx --model-dir" in messages[0].hint
    # The message names the exact command for this directory.
    assert f"captcha_export_onnx --model-dir {tmp_path}" in messages[0].msg


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
    ("test_mode", "debug", "allow", "expected"),
    [
        (True, False, False, ["gancaptcha_field.E023"]),  # refused, and said so
        (True, False, True, ["gancaptcha_field.W002"]),  # allowed: still warned
        (True, True, False, []),
        (False, False, False, []),
        (False, False, True, []),
    ],
)
def test_e023_and_w002_test_mode_in_production(
    settings: Settings, test_mode: bool, debug: bool, allow: bool, expected: list[str]
) -> None:
    settings.GANCAPTCHA_TEST_MODE = test_mode
    settings.GANCAPTCHA_TEST_MODE_ALLOW_WITHOUT_DEBUG = allow
    settings.DEBUG = debug
    messages = checks.check_test_mode()
    assert ids(messages) == expected
    if expected == ["gancaptcha_field.E023"]:
        assert messages[0].level == django_checks.ERROR
        assert messages[0].msg == checks.Messages.E023
        assert messages[0].hint == checks.Hints.E023


@pytest.mark.parametrize(
    "value", ["False", "0", "off", "no", "", 1, 0, None, "True", [True]]
)
@pytest.mark.parametrize(
    "name",
    [
        "TEST_MODE",
        "TEST_MODE_ALLOW_WITHOUT_DEBUG",
        "POOL_ONLY",
        "POOL_AUTOFILL",
        "SYNCHRONOUS_COMMIT",
        "RATELIMIT_ENABLED",
    ],
)
def test_e020_a_boolean_is_true_or_false_and_nothing_else(
    settings: Settings, name: str, value: object
) -> None:
    setattr(settings, f"GANCAPTCHA_{name}", value)
    messages = checks.check_settings()
    assert ids(messages) == ["gancaptcha_field.E020"]
    assert messages[0].level == django_checks.ERROR
    assert f"GANCAPTCHA_{name} must be True or False, not {value!r}" in messages[0].msg
    assert messages[0].hint == checks.Hints.E020
    assert getattr(conf, name) is False  # never read as true


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TIMEOUT", "300"),
        ("TIMEOUT", 0),
        ("TIMEOUT", 300.0),
        ("TIMEOUT", True),
        ("POOL_SIZE", -1),
        ("POOL_LOW_WATER", "3"),
        ("POOL_RESERVE", 0),
        ("IMAGE_SCALE", "2"),
        ("BATCH_SIZE", None),
        ("READER_THRESHOLD", "0.99"),
        ("VERIFIER_THRESHOLD", 1.5),
        ("STORE", "Database"),
        ("CACHE_ALIAS", ""),
        ("PRELOAD", "yes"),
    ],
)
def test_e020_typed_settings_are_parsed_strictly(
    settings: Settings, name: str, value: object
) -> None:
    setattr(settings, f"GANCAPTCHA_{name}", value)
    messages = checks.check_settings()
    assert ids(messages) == ["gancaptcha_field.E020"]
    assert f"GANCAPTCHA_{name} must be" in messages[0].msg


def test_no_e020_for_valid_settings(settings: Settings) -> None:
    settings.GANCAPTCHA_TIMEOUT = 60
    settings.GANCAPTCHA_READER_THRESHOLD = 1
    settings.GANCAPTCHA_TEST_MODE = False
    settings.GANCAPTCHA_PRELOAD = "auto"
    settings.GANCAPTCHA_POOL_LOW_WATER = None
    assert checks.check_settings() == []


def test_w012_the_trap_without_hardening(settings: Settings) -> None:
    settings.GANCAPTCHA_TRAP = True
    settings.GANCAPTCHA_HARDEN = False
    assert ids(checks.check_settings()) == ["gancaptcha_field.W012"]
    settings.GANCAPTCHA_HARDEN = True
    assert checks.check_settings() == []


def test_e021_unknown_store(settings: Settings) -> None:
    settings.GANCAPTCHA_STORE = "redis"
    messages = checks.check_store()
    assert ids(messages) == ["gancaptcha_field.E021"]
    assert messages[0].msg == checks.Messages.E021.format(value="redis")
    assert messages[0].level == django_checks.ERROR


def test_e022_cache_alias_missing(settings: Settings) -> None:
    settings.GANCAPTCHA_STORE = "cache"
    settings.GANCAPTCHA_CACHE_ALIAS = "nowhere"
    messages = checks.check_store()
    assert ids(messages) == ["gancaptcha_field.E022"]
    assert messages[0].msg == checks.Messages.E022.format(alias="nowhere")
    settings.GANCAPTCHA_CACHE_ALIAS = "default"
    assert checks.check_store() == []


def test_w003_urls_not_included(settings: Settings) -> None:
    assert checks.check_urls() == []
    settings.ROOT_URLCONF = "demo_site.signup.urls"
    messages = checks.check_urls()
    assert ids(messages) == ["gancaptcha_field.W003"]
    assert messages[0].level == django_checks.WARNING


def test_checks_are_registered_once(settings: Settings) -> None:
    ours = {
        checks.check_models,
        checks.check_test_mode,
        checks.check_urls,
        checks.check_settings,
        checks.check_store,
    }
    before = django_checks.registry.registry.get_checks()
    assert ours <= set(before)
    checks.register()
    checks.register()
    assert len(django_checks.registry.registry.get_checks()) == len(before)


def test_checks_run_through_django(settings: Settings) -> None:
    settings.GANCAPTCHA_TEST_MODE = "False"  # from an environment variable
    settings.GANCAPTCHA_STORE = "memcache"
    settings.DEBUG = False
    found = ids(django_checks.run_checks(tags=[checks.TAG]))
    assert {"gancaptcha_field.E020", "gancaptcha_field.E021"} <= set(found)
    settings.GANCAPTCHA_TEST_MODE = True
    found = ids(django_checks.run_checks(tags=[checks.TAG]))
    assert "gancaptcha_field.E023" in found
