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
    settings.GANCAPTCHA_SOURCE = "pool"
    assert checks.check_models() == []  # they serve from the pool only
    settings.GANCAPTCHA_SOURCE = "pool-then-draw"
    assert ids(checks.check_models()) == ["gancaptcha_field.W001"]


def test_no_e002_on_pool_only_hosts(settings: Settings) -> None:
    settings.GANCAPTCHA_MODEL_DIR = None
    del settings.BASE_DIR
    settings.GANCAPTCHA_SOURCE = "pool"
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
        "SYNCHRONOUS_COMMIT",
        "RATELIMIT_ENABLED",
        "NO_READING",
        "HARDEN",
        "TRAP",
        "INLINE_IMAGE",
        "POOL.autofill",
        "POW.answers",
        "DRAW.latent_bank",
    ],
)
def test_e020_a_boolean_is_true_or_false_and_nothing_else(
    settings: Settings, name: str, value: object
) -> None:
    setting, _, key = name.partition(".")
    setattr(settings, f"GANCAPTCHA_{setting}", {key: value} if key else value)
    messages = checks.check_settings()
    assert ids(messages) == ["gancaptcha_field.E020"]
    assert messages[0].level == django_checks.ERROR
    named = f"GANCAPTCHA_{setting}" + (f"[{key!r}]" if key else "")
    assert f"{named} must be True or False, not {value!r}" in messages[0].msg
    assert messages[0].hint == checks.Hints.E020
    got = getattr(conf, setting)
    assert (got[key] if key else got) is False  # never read as true


@pytest.mark.parametrize(
    ("name", "value", "named"),
    [
        ("TIMEOUT", "300", "GANCAPTCHA_TIMEOUT must be"),
        ("TIMEOUT", 0, "GANCAPTCHA_TIMEOUT must be"),
        ("TIMEOUT", 300.0, "GANCAPTCHA_TIMEOUT must be"),
        ("TIMEOUT", True, "GANCAPTCHA_TIMEOUT must be"),
        ("POOL", {"size": -1}, "GANCAPTCHA_POOL['size'] must be"),
        ("POOL", {"low_water": "3"}, "GANCAPTCHA_POOL['low_water'] must be"),
        ("POOL", {"reserve": 0}, "GANCAPTCHA_POOL['reserve'] must be"),
        ("POOL", {"sise": 10}, "GANCAPTCHA_POOL has no key 'sise'"),
        ("POOL", [("size", 10)], "GANCAPTCHA_POOL must be a dict"),
        ("IMAGE_SCALE", "2", "GANCAPTCHA_IMAGE_SCALE must be"),
        ("DRAW", {"batch_size": None}, "GANCAPTCHA_DRAW['batch_size'] must be"),
        ("SERVING_RULE", {"reader_threshold": "0.99"}, "['reader_threshold'] must"),
        ("SERVING_RULE", {"verifier_threshold": 1.5}, "['verifier_threshold'] must"),
        ("SERVING_RULE", 0.99, "GANCAPTCHA_SERVING_RULE must be a dict or None"),
        ("POW", {"min_tries": 0}, "GANCAPTCHA_POW['min_tries'] must be"),
        ("POW", "True", "GANCAPTCHA_POW must be a dict"),
        ("SOURCE", "pool-only", "GANCAPTCHA_SOURCE must be one of"),
        ("STORE", "Database", "GANCAPTCHA_STORE must be"),
        ("CACHE_ALIAS", "", "GANCAPTCHA_CACHE_ALIAS must be"),
        ("PRELOAD", "yes", "GANCAPTCHA_PRELOAD must be"),
        ("MODEL_DIR", 3, "GANCAPTCHA_MODEL_DIR must be"),
    ],
)
def test_e020_typed_settings_are_parsed_strictly(
    settings: Settings, name: str, value: object, named: str
) -> None:
    setattr(settings, f"GANCAPTCHA_{name}", value)
    messages = [m for m in checks.check_settings() if m.id != "gancaptcha_field.W020"]
    assert ids(messages) == ["gancaptcha_field.E020"]
    assert named in messages[0].msg


def test_no_e020_for_valid_settings(settings: Settings) -> None:
    settings.GANCAPTCHA_TIMEOUT = 60
    settings.GANCAPTCHA_SERVING_RULE = {"reader_threshold": 1}
    settings.GANCAPTCHA_TEST_MODE = False
    settings.GANCAPTCHA_PRELOAD = "auto"
    settings.GANCAPTCHA_POOL = {"low_water": None}
    settings.GANCAPTCHA_POW = {"answers": True, "attack_rate": 5}
    assert checks.check_settings() == []


def test_w020_names_each_old_setting_and_the_line_that_replaces_it(
    settings: Settings,
) -> None:
    settings.GANCAPTCHA_POW = True
    settings.GANCAPTCHA_POW_MIN_TRIES = 20
    settings.GANCAPTCHA_READER_THRESHOLD = 0.9
    messages = checks.check_settings()
    assert ids(messages) == ["gancaptcha_field.W020"] * 2
    rule, proof = messages
    assert "GANCAPTCHA_READER_THRESHOLD" in rule.msg
    assert rule.hint == (
        'Replace it with: GANCAPTCHA_SERVING_RULE = {"reader_threshold": 0.9}'
    )
    assert "GANCAPTCHA_POW = True" in proof.msg
    assert "GANCAPTCHA_POW_MIN_TRIES" in proof.msg
    assert proof.hint == (
        'Replace it with: GANCAPTCHA_POW = {"min_tries": 20, "answers": True}'
    )


def test_w020_for_the_pool_size_of_no_pool_names_the_source_too(
    settings: Settings,
) -> None:
    del settings.GANCAPTCHA_SOURCE
    settings.GANCAPTCHA_POOL_SIZE = 0
    hints = [m.hint for m in checks.check_settings()]
    assert hints == [
        'Replace it with: GANCAPTCHA_SOURCE = "draw"',
        'Replace it with: GANCAPTCHA_POOL = {"size": 0}',
    ]


def test_w020_hint_keeps_the_new_settings_keys(settings: Settings) -> None:
    # Half-way through an upgrade: the new dict wins, the old name fills the rest.
    settings.GANCAPTCHA_POOL = {"size": 10}
    settings.GANCAPTCHA_POOL_SIZE = 5
    settings.GANCAPTCHA_POOL_BATCH = 4
    (message,) = checks.check_settings()
    assert message.id == "gancaptcha_field.W020"
    assert message.hint == 'Replace it with: GANCAPTCHA_POOL = {"size": 10, "batch": 4}'


def test_w020_never_suggests_an_invalid_old_value_again(settings: Settings) -> None:
    # An old value that is itself invalid (E020 names it) is not copied into
    # the suggested line: a dict leaves its key out, a plain setting says "...".
    del settings.GANCAPTCHA_SOURCE
    settings.GANCAPTCHA_POOL_ONLY = "True"
    settings.GANCAPTCHA_POOL_BATCH = False
    settings.GANCAPTCHA_POOL_RESERVE = 8
    settings.GANCAPTCHA_MARGIN = "0.5"
    hints = {m.hint for m in checks.check_settings() if m.id.endswith("W020")}
    assert hints == {
        "Replace it with: GANCAPTCHA_SOURCE = ...",
        'Replace it with: GANCAPTCHA_POOL = {"reserve": 8}',
        "Replace it with: GANCAPTCHA_SERVING_RULE = {}",
    }


def test_no_w020_without_old_settings(settings: Settings) -> None:
    settings.GANCAPTCHA_POW = {"answers": False}
    settings.GANCAPTCHA_SOURCE = "draw"
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
