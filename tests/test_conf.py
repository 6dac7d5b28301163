"""conf: every GANCAPTCHA_* setting's default, parsing, and reading at call time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pytest_django import Settings

from gancaptcha_field import conf as conf_module
from gancaptcha_field.conf import DEFAULT_RATELIMIT_RATES, conf

# What each setting reads as when it is unset (MODEL_DIR: below).
DEFAULTS: dict[str, Any] = {
    "SERVING_RULE": {},  # the model set's rule (artifacts.serving_rule)
    "TIMEOUT": 300,
    "IMAGE_SCALE": 2,
    "INLINE_IMAGE": False,
    "HARDEN": False,
    "TRAP": False,
    "TRAP_PENALTY": 4,
    "STORE": "database",
    "CACHE_ALIAS": "default",
    "SYNCHRONOUS_COMMIT": False,
    "SOURCE": "pool-then-draw",
    "POOL": {
        "size": 4000,
        "low_water": 4000 - 64,  # with the default size and batch
        "batch": 64,
        "reserve": 16,
        "autofill": True,
    },
    "DRAW": {
        "batch_size": 64,
        "bucket_size": 64,
        "max_batches": 40,
        "latent_bank": True,
    },
    "PRELOAD": "auto",
    "TEST_MODE": False,
    "TEST_MODE_ALLOW_WITHOUT_DEBUG": False,
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
    "POW": {
        "answers": False,
        "iterations": 2000,
        "min_tries": 8,
        "max_tries": 1000,
        "attack_rate": 60.0,
        "no_reading_min_tries": 6000,
        "no_reading_max_tries": 30000,
        "no_reading_attack_rate": 30.0,
    },
    "NO_READING": True,
}

# A value a project might set, and what the setting reads as.
PARSED: list[tuple[str, Any, Any]] = [
    ("TIMEOUT", 60, 60),
    ("SERVING_RULE", None, {}),
    ("SERVING_RULE", {"reader_threshold": 1}, {"reader_threshold": 1.0}),
    (
        "SERVING_RULE",
        {"margin": 0, "verifier_threshold": 0.5},
        {"margin": 0.0, "verifier_threshold": 0.5},
    ),
    ("SERVING_RULE", {"margin": -1}, {}),  # invalid (E020): the model set's
    ("TEST_MODE", True, True),
    ("PRELOAD", True, True),
    ("PRELOAD", False, False),
    ("PRELOAD", "yes", False),  # invalid: never forces the models in
    ("IMAGE_SCALE", 3, 3),
    ("STORE", "cache", "cache"),
    ("STORE", "nowhere", None),  # invalid: no store (a 503), not another one
    ("CACHE_ALIAS", "captcha", "captcha"),
    ("SOURCE", "pool", "pool"),
    ("SOURCE", "draw", "draw"),
    ("SOURCE", "pool_only", "pool-then-draw"),  # invalid: the default
    ("HARDEN", True, True),
    ("TRAP", True, True),
    ("TRAP", 1, False),
    ("TRAP_PENALTY", 0, 0),
    ("TRAP_PENALTY", -1, 4),
    ("SYNCHRONOUS_COMMIT", True, True),
    ("RATELIMIT_ENABLED", True, True),
    ("RATELIMIT_CACHE", "limits", "limits"),
    ("CLIENT_IP", 2, 2),
    ("CLIENT_IP", "HTTP_X_REAL_IP", "HTTP_X_REAL_IP"),
    ("NO_READING", "False", False),
]

# A partial dict, and the keys it reads as (the rest stay at their defaults).
PARSED_KEYS: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("POOL", {"size": 100, "batch": 16}, {"size": 100, "batch": 16, "low_water": 84}),
    ("POOL", {"reserve": 4, "autofill": False}, {"reserve": 4, "autofill": False}),
    ("POOL", {"reserve": 0}, {"reserve": 16}),  # invalid (E020): the default, never 0
    ("POOL", {"size": -1}, {"size": 4000}),  # invalid: the default pool, not none
    ("POOL", {"size": 0}, {"size": 0, "low_water": 0}),
    ("DRAW", {"batch_size": 8, "max_batches": 3}, {"batch_size": 8, "max_batches": 3}),
    ("DRAW", {"latent_bank": False}, {"latent_bank": False}),
    ("DRAW", {"latent_bank": "False"}, {"latent_bank": False}),
    ("POW", {"answers": True}, {"answers": True}),
    (
        "POW",
        {"answers": "True"},
        {"answers": False},
    ),  # strict: a string never turns it on
    ("POW", {"max_tries": 64, "attack_rate": 5}, {"max_tries": 64, "attack_rate": 5.0}),
    ("POW", {"min_tries": 50, "max_tries": 10}, {"min_tries": 50, "max_tries": 50}),
    (
        "POW",
        {"no_reading_min_tries": 4, "no_reading_max_tries": 64},
        {"no_reading_min_tries": 4, "no_reading_max_tries": 64},
    ),
    ("POW", {"no_reading_attack_rate": 0}, {"no_reading_attack_rate": 30.0}),
    ("POW", "on", {}),  # not a dict: every default, the proof off
]


def _unset_all(settings: Settings) -> None:
    for setting in conf_module.declared():
        if hasattr(settings, setting.name):
            delattr(settings, setting.name)


def test_every_setting_has_a_default_here() -> None:
    assert [s.name.removeprefix("GANCAPTCHA_") for s in conf_module.declared()] == [
        "MODEL_DIR",
        *DEFAULTS,
    ]


def test_about_twenty_settings() -> None:
    assert len(conf_module.declared()) <= 24


@pytest.mark.parametrize("name", list(DEFAULTS))
def test_default(settings: Settings, name: str) -> None:
    # Every setting unset (tests/settings.py sets some): the defaults a site gets.
    _unset_all(settings)
    assert getattr(conf, name) == DEFAULTS[name]
    assert conf.problems() == []


@pytest.mark.parametrize(("name", "value", "expected"), PARSED)
def test_parsing(settings: Settings, name: str, value: Any, expected: Any) -> None:
    setattr(settings, f"GANCAPTCHA_{name}", value)
    got = getattr(conf, name)
    assert got == expected
    assert type(got) is type(expected)


@pytest.mark.parametrize(("name", "value", "expected"), PARSED_KEYS)
def test_partial_dicts_override_only_the_keys_they_name(
    settings: Settings, name: str, value: Any, expected: dict[str, Any]
) -> None:
    _unset_all(settings)
    setattr(settings, f"GANCAPTCHA_{name}", value)
    got = getattr(conf, name)
    assert got == {**DEFAULTS[name], **expected}
    for key, wanted in expected.items():
        assert type(got[key]) is type(wanted)


def test_declared_gives_what_the_reference_shows() -> None:
    seen = set()
    for setting in conf_module.declared():
        assert setting.name.startswith("GANCAPTCHA_")
        assert setting.name not in seen
        seen.add(setting.name)
        assert setting.help.strip(), setting.name
        assert "\n#" not in setting.help  # inline markup only, no headings
        assert setting.kind
        # The class attribute is the descriptor itself; the instance reads it.
        assert getattr(conf_module.Settings, setting.attr) is setting
    by_name = {s.name: s for s in conf_module.declared()}
    assert by_name["GANCAPTCHA_TIMEOUT"].kind == "int >= 1"
    assert by_name["GANCAPTCHA_TIMEOUT"].default == 300
    assert by_name["GANCAPTCHA_POW"].default["min_tries"] == 8
    assert by_name["GANCAPTCHA_POOL"].default == {
        "size": 4000,
        "low_water": None,
        "batch": 64,
        "reserve": 16,
        "autofill": True,
    }
    assert by_name["GANCAPTCHA_SERVING_RULE"].default is None


# Each setting of the last release, a value, and where it is read now.
OLD: list[tuple[str, Any, str, Any]] = [
    ("READER_THRESHOLD", 0.5, "SERVING_RULE", {"reader_threshold": 0.5}),
    ("VERIFIER_THRESHOLD", 0.9, "SERVING_RULE", {"verifier_threshold": 0.9}),
    ("MARGIN", 0.0, "SERVING_RULE", {"margin": 0.0}),
    ("POW", True, "POW", {"answers": True}),
    ("POW", False, "POW", {"answers": False}),
    ("POW_ITERATIONS", 10, "POW", {"iterations": 10}),
    ("POW_MIN_TRIES", 4, "POW", {"min_tries": 4}),
    ("POW_MAX_TRIES", 64, "POW", {"max_tries": 64}),
    ("POW_ATTACK_RATE", 20, "POW", {"attack_rate": 20.0}),
    ("NO_READING_MIN_TRIES", 5, "POW", {"no_reading_min_tries": 5}),
    ("NO_READING_MAX_TRIES", 70000, "POW", {"no_reading_max_tries": 70000}),
    ("NO_READING_ATTACK_RATE", 2, "POW", {"no_reading_attack_rate": 2.0}),
    ("POOL_SIZE", 100, "POOL", {"size": 100, "low_water": 50}),
    ("POOL_SIZE", 0, "SOURCE", "draw"),
    ("POOL_SIZE", 100, "SOURCE", "pool-then-draw"),
    ("POOL_ONLY", True, "SOURCE", "pool"),
    ("POOL_ONLY", False, "SOURCE", "pool-then-draw"),
    ("POOL_LOW_WATER", 7, "POOL", {"low_water": 7}),
    ("POOL_BATCH", 16, "POOL", {"batch": 16, "low_water": 4000 - 16}),
    ("POOL_RESERVE", 4, "POOL", {"reserve": 4}),
    ("POOL_AUTOFILL", False, "POOL", {"autofill": False}),
    ("BATCH_SIZE", 8, "DRAW", {"batch_size": 8}),
    ("BUCKET_SIZE", 9, "DRAW", {"bucket_size": 9}),
    ("MAX_BATCHES", 3, "DRAW", {"max_batches": 3}),
    ("LATENT_BANK", False, "DRAW", {"latent_bank": False}),
]


@pytest.mark.parametrize(("old", "value", "new", "expected"), OLD)
def test_each_old_name_is_read_into_its_new_setting(
    settings: Settings, old: str, value: Any, new: str, expected: Any
) -> None:
    _unset_all(settings)
    setattr(settings, f"GANCAPTCHA_{old}", value)
    got = getattr(conf, new)
    if isinstance(expected, dict) and new != "SERVING_RULE":
        expected = {**DEFAULTS[new], **expected}
    assert got == expected
    assert f"GANCAPTCHA_{old}" in conf_module.DEPRECATED


def test_deprecated_names_every_old_setting_once() -> None:
    assert set(conf_module.DEPRECATED) == {f"GANCAPTCHA_{old}" for old, *_ in OLD}
    current = {s.name for s in conf_module.declared()}
    for old, text in conf_module.DEPRECATED.items():
        assert old not in current or old == "GANCAPTCHA_POW"  # its bool form
        assert text.startswith("GANCAPTCHA_")
        assert text.split(" = ")[0] in current
    assert (
        conf_module.DEPRECATED["GANCAPTCHA_POW_MIN_TRIES"]
        == 'GANCAPTCHA_POW = {"min_tries": ...}'
    )


def test_an_old_name_with_a_bad_value_is_named_in_the_problem(
    settings: Settings,
) -> None:
    _unset_all(settings)
    settings.GANCAPTCHA_POW_MIN_TRIES = "8"
    assert conf.POW["min_tries"] == 8  # the default
    (problem,) = conf.problems()
    assert problem.startswith("GANCAPTCHA_POW_MIN_TRIES must be an int")
    assert "GANCAPTCHA_POW['min_tries']" in problem
    settings.GANCAPTCHA_POOL_ONLY = "yes"
    assert conf.SOURCE == "pool-then-draw"  # never pool-only by accident
    assert any(
        p.startswith("GANCAPTCHA_POOL_ONLY must be")
        and "(read as GANCAPTCHA_SOURCE)" in p
        for p in conf.problems()
    )


def test_the_new_setting_wins_over_the_old(settings: Settings) -> None:
    _unset_all(settings)
    settings.GANCAPTCHA_POW_MIN_TRIES = 4
    settings.GANCAPTCHA_POW_ITERATIONS = 10
    settings.GANCAPTCHA_POW = {"min_tries": 16}
    # Key by key: the new dict's keys win, the old names fill the others.
    assert conf.POW["min_tries"] == 16
    assert conf.POW["iterations"] == 10
    settings.GANCAPTCHA_POOL_ONLY = True
    settings.GANCAPTCHA_SOURCE = "draw"
    assert conf.SOURCE == "draw"
    settings.GANCAPTCHA_MARGIN = 1.0
    settings.GANCAPTCHA_SERVING_RULE = {"margin": 2.0}
    assert conf.SERVING_RULE == {"margin": 2.0}
    settings.GANCAPTCHA_SERVING_RULE = None
    assert conf.SERVING_RULE == {"margin": 1.0}  # None names no key


def test_settings_are_read_at_call_time(settings: Settings) -> None:
    settings.GANCAPTCHA_TIMEOUT = 10
    assert conf.TIMEOUT == 10
    settings.GANCAPTCHA_TIMEOUT = 20
    assert conf.TIMEOUT == 20


def test_pool_low_water_follows_the_pool_size_unless_set(settings: Settings) -> None:
    settings.GANCAPTCHA_POOL = {"size": 100}
    assert conf.POOL["low_water"] == 100 // 2  # half: more than a batch short
    settings.GANCAPTCHA_POOL = {"size": 1000}
    assert conf.POOL["low_water"] == 1000 - 64  # a batch short of full
    settings.GANCAPTCHA_POOL = {"size": 1000, "low_water": 7}
    assert conf.POOL["low_water"] == 7


def test_every_pool_size_gets_a_low_water_it_can_fall_under(settings: Settings) -> None:
    # A low water of 0 would never start a refill; a pool within two batches
    # of empty refills at half.
    for size in range(1, 300):
        settings.GANCAPTCHA_POOL = {"size": size}
        assert 1 <= conf.POOL["low_water"] <= size
    settings.GANCAPTCHA_POOL = {"size": 32}
    assert conf.POOL["low_water"] == 16


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
