"""conf: every GANCAPTCHA_* setting's default, parsing, and reading at call time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pytest_django import Settings

from gancaptcha_field import conf as conf_module
from gancaptcha_field import constants
from gancaptcha_field.conf import DEFAULT_RATELIMIT_RATES, conf

# What each property gives when its setting is absent (MODEL_DIR: below).
DEFAULTS: dict[str, Any] = {
    "TIMEOUT": 300,
    "READER_THRESHOLD": constants.DEFAULT_READER_THRESHOLD,
    "VERIFIER_THRESHOLD": constants.DEFAULT_VERIFIER_THRESHOLD,
    "TEST_MODE": False,
    "TEST_MODE_ALLOW_WITHOUT_DEBUG": False,
    "TEST_ANSWER": "PASS",
    "PRELOAD": "auto",
    "BATCH_SIZE": 64,
    "BUCKET_SIZE": 64,
    "MAX_BATCHES": 40,
    "IMAGE_SCALE": 2,
    "STORE": "database",
    "CACHE_ALIAS": "default",
    "POOL_SIZE": 1000,
    "POOL_LOW_WATER": 1000 - 64,  # with the default POOL_SIZE and POOL_BATCH
    "POOL_BATCH": 64,
    "POOL_RESERVE": 16,
    "POOL_AUTOFILL": True,
    "POOL_ONLY": False,
    "SYNCHRONOUS_COMMIT": False,
    "RATELIMIT_ENABLED": True,
    "RATELIMIT_RATES": {
        "create": "30/m",
        "image": "120/m",
        "fail": "10/m",
        "nojs": "3/m",
        "audio": "10/m",
        "no_reading": "3/h",
    },
    "RATELIMIT_CACHE": "default",
    "CLIENT_IP": "REMOTE_ADDR",
    "HARDEN": False,
    "TRAP": False,
    "TRAP_PENALTY": 4,
    "INLINE_IMAGE": False,
    "LATENT_BANK": True,
    "MARGIN": 7.0,
    "POW": False,
    "POW_ITERATIONS": 2000,
    "POW_MIN_TRIES": 8,
    "POW_MAX_TRIES": 1000,
    "POW_ATTACK_RATE": 60.0,
    "NO_READING": True,
    "NO_READING_MIN_TRIES": 6000,
    "NO_READING_MAX_TRIES": 30000,
    "NO_READING_ATTACK_RATE": 30.0,
}

# A value a project might set, and what the property gives for it.
PARSED: list[tuple[str, Any, Any]] = [
    ("TIMEOUT", 60, 60),
    ("READER_THRESHOLD", 0.5, 0.5),
    ("READER_THRESHOLD", 1, 1.0),
    ("VERIFIER_THRESHOLD", 0.9, 0.9),
    ("TEST_MODE", True, True),
    ("PRELOAD", True, True),
    ("PRELOAD", False, False),
    ("BATCH_SIZE", 64, 64),
    ("BUCKET_SIZE", 8, 8),
    ("MAX_BATCHES", 3, 3),
    ("IMAGE_SCALE", 3, 3),
    ("STORE", "cache", "cache"),
    ("CACHE_ALIAS", "captcha", "captcha"),
    ("POOL_SIZE", 100, 100),
    ("POOL_BATCH", 16, 16),
    ("POOL_RESERVE", 4, 4),
    ("POOL_RESERVE", 0, 16),  # invalid (E020): the default, never 0
    ("POOL_SIZE", -1, 1000),  # invalid: the default pool, not none
    ("PRELOAD", "yes", False),  # invalid: never forces TensorFlow in
    ("STORE", "nowhere", None),  # invalid: no store (a 503), not another one
    ("HARDEN", True, True),
    ("TRAP", True, True),
    ("TRAP", 1, False),
    ("TRAP_PENALTY", 0, 0),
    ("TRAP_PENALTY", -1, 4),
    ("POW", True, True),
    ("POW", "True", False),  # strict: a string never turns it on
    ("POW_MAX_TRIES", 64, 64),
    ("POW_ATTACK_RATE", 5, 5.0),
    ("POOL_AUTOFILL", False, False),
    ("POOL_ONLY", True, True),
    ("SYNCHRONOUS_COMMIT", True, True),
    ("RATELIMIT_ENABLED", True, True),
    ("RATELIMIT_CACHE", "limits", "limits"),
    ("CLIENT_IP", 2, 2),
    ("CLIENT_IP", "HTTP_X_REAL_IP", "HTTP_X_REAL_IP"),
]


def _properties() -> set[str]:
    return {
        name
        for name, value in vars(conf_module.Settings).items()
        if isinstance(value, property)
    }


def test_every_setting_has_a_default_here() -> None:
    assert _properties() == {*DEFAULTS, "MODEL_DIR"}


@pytest.mark.parametrize("name", sorted(DEFAULTS))
def test_default(settings: Settings, name: str) -> None:
    # Every setting unset (tests/settings.py sets some): the defaults a site gets.
    for other in DEFAULTS:
        if hasattr(settings, f"GANCAPTCHA_{other}"):
            delattr(settings, f"GANCAPTCHA_{other}")
    assert getattr(conf, name) == DEFAULTS[name]


@pytest.mark.parametrize(("name", "value", "expected"), PARSED)
def test_parsing(settings: Settings, name: str, value: Any, expected: Any) -> None:
    setattr(settings, f"GANCAPTCHA_{name}", value)
    got = getattr(conf, name)
    assert got == expected
    assert type(got) is type(expected)


def test_settings_are_read_at_call_time(settings: Settings) -> None:
    settings.GANCAPTCHA_TIMEOUT = 10
    assert conf.TIMEOUT == 10
    settings.GANCAPTCHA_TIMEOUT = 20
    assert conf.TIMEOUT == 20


def test_pool_low_water_follows_the_pool_size_unless_set(settings: Settings) -> None:
    settings.GANCAPTCHA_POOL_SIZE = 100
    assert conf.POOL_LOW_WATER == 100 // 2  # half: more than a batch short
    settings.GANCAPTCHA_POOL_SIZE = 1000
    assert conf.POOL_LOW_WATER == 1000 - 64  # a batch (POOL_BATCH) short of full
    settings.GANCAPTCHA_POOL_LOW_WATER = 7
    assert conf.POOL_LOW_WATER == 7


def test_every_pool_size_gets_a_low_water_it_can_fall_under(settings: Settings) -> None:
    # A low water of 0 would never start a refill; a pool within two batches
    # of empty refills at half.
    for size in range(1, 300):
        settings.GANCAPTCHA_POOL_SIZE = size
        assert 1 <= conf.POOL_LOW_WATER <= size
    settings.GANCAPTCHA_POOL_SIZE = 32
    assert conf.POOL_LOW_WATER == 16


def test_partial_rates_override_only_the_actions_they_name(settings: Settings) -> None:
    settings.GANCAPTCHA_RATELIMIT_RATES = {"fail": "3/m", "image": None}
    assert conf.RATELIMIT_RATES == {
        "create": "30/m",
        "image": None,
        "fail": "3/m",
        "nojs": "3/m",
        "audio": "10/m",
        "no_reading": "3/h",
    }
    assert DEFAULT_RATELIMIT_RATES["fail"] == "10/m"  # the defaults stay untouched


def test_model_dir_given_as_a_string_or_path(
    settings: Settings, tmp_path: Path
) -> None:
    settings.GANCAPTCHA_MODEL_DIR = str(tmp_path)
    assert conf.MODEL_DIR == tmp_path
    settings.GANCAPTCHA_MODEL_DIR = tmp_path / "models"
    assert conf.MODEL_DIR == tmp_path / "models"


def test_model_dir_none_means_no_models(settings: Settings) -> None:
    settings.GANCAPTCHA_MODEL_DIR = None
    assert conf.MODEL_DIR is None


def test_model_dir_unset_in_a_source_checkout_is_the_repositorys(
    settings: Settings,
) -> None:
    del settings.GANCAPTCHA_MODEL_DIR
    del settings.BASE_DIR  # BASE_DIR plays no part any more
    repository = Path(__file__).resolve().parent.parent
    assert conf.MODEL_DIR == repository / "ml_models"


def test_model_dir_unset_in_an_installed_wheel_is_the_shipped_set(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The layout a wheel installs: the models beside conf.py.
    package = tmp_path / "site-packages" / "gancaptcha_field"
    (package / "shipped_models").mkdir(parents=True)
    monkeypatch.setattr(conf_module, "__file__", str(package / "conf.py"))
    del settings.GANCAPTCHA_MODEL_DIR
    assert conf.MODEL_DIR == package / "shipped_models"
