"""Internal. System checks: models missing or broken, test mode in production, URLs
missing."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core import checks
from django.urls import NoReverseMatch, reverse

from gancaptcha_field import artifacts, ratelimit
from gancaptcha_field.conf import conf, deprecated_in_use
from gancaptcha_field.supply import registry
from gancaptcha_field.supply.source import current_source

TAG = "gancaptcha"
_MIDDLEWARE = "gancaptcha_field.ratelimit.RateLimitMiddleware"


class Messages:
    """What each check says; the logic below only picks one."""

    W001 = "The GanCaptcha models are missing: {detail}"
    E001 = "The GanCaptcha model files are incompatible or corrupt: {detail}"
    E002 = "GANCAPTCHA_MODEL_DIR is not configured."
    W002 = (
        "GANCAPTCHA_TEST_MODE is on while DEBUG is False "
        "(GANCAPTCHA_TEST_MODE_ALLOW_WITHOUT_DEBUG): any CAPTCHA passes."
    )
    W003 = "The GanCaptcha URLs are not included, so images cannot be served."
    W004 = "The GanCaptcha models are not exported to ONNX: {detail}"
    E010 = "The GanCaptcha models could not be loaded: {detail}"
    E011 = "GanCaptcha rate-limit settings are invalid: {detail}"
    E020 = "Invalid GanCaptcha setting: {detail}"
    W020 = (
        "Deprecated GanCaptcha setting in use: {old}. It is read as {new} for "
        "this release only, and ignored from the next."
    )
    E021 = "GANCAPTCHA_STORE is {value!r}: there is no such store."
    E022 = "GANCAPTCHA_CACHE_ALIAS {alias!r} is not in CACHES."
    E023 = (
        "GANCAPTCHA_TEST_MODE is on while DEBUG is False, so it is refused: "
        "answers are checked normally."
    )
    W010 = (
        "GANCAPTCHA_RATELIMIT_ENABLED is on but RateLimitMiddleware is not "
        "installed, so page renders and failed answers are not limited."
    )
    W012 = (
        "GANCAPTCHA_TRAP is on but GANCAPTCHA_HARDEN is off: stock solvers "
        "seldom misread the plain layout, so few challenges carry a bait."
    )
    W013 = (
        "GANCAPTCHA_RATELIMIT_RATES['no_reading'] is None: the way through "
        "without reading is unlimited per client, so a bot passes as often as "
        "its CPU solves puzzles."
    )
    E012 = (
        "GanCaptcha rate limits count in a per-process cache ({backend}) while "
        "DEBUG is False: each process counts alone (a dummy cache counts "
        "nothing), so the limits do not hold."
    )
    E013 = (
        "GanCaptcha rate limits count in {backend}, whose increments are a "
        "read then a write, not atomic: concurrent failures are lost."
    )


class Hints:
    """How to fix what each check found."""

    W001 = (
        "Leave GANCAPTCHA_MODEL_DIR unset to use the models shipped with the "
        "package, or train a set there: `python manage.py train_captcha_models`."
    )
    E001 = (
        "Retrain with `python manage.py train_captcha_models`, or reinstall the models."
    )
    E002 = (
        "Remove GANCAPTCHA_MODEL_DIR = None to use the models shipped with the "
        "package, or set it to a directory of models."
    )
    W002 = "Turn GANCAPTCHA_TEST_MODE off outside tests."
    W004 = (
        "Export them once, on a host with the [train] extra (TensorFlow): "
        "`python manage.py captcha_export_onnx --model-dir DIR` (DIR: "
        "GANCAPTCHA_MODEL_DIR). Until then the field says it is unavailable."
    )
    E020 = (
        "Booleans are True or False (not strings such as 'False' or '0'), "
        "numbers are ints or floats, and the dict settings take only their own "
        "keys; see the Settings page of the docs. An invalid value reads as "
        "False (booleans, and GANCAPTCHA_PRELOAD), no store (GANCAPTCHA_STORE), "
        "or the default."
    )
    W020 = "Replace it with: {line}"
    E021 = "Set GANCAPTCHA_STORE to 'database' (the default) or 'cache'."
    E022 = "Add that alias to CACHES, or point GANCAPTCHA_CACHE_ALIAS at one."
    E023 = (
        "Turn GANCAPTCHA_TEST_MODE off, or, in a test setup that runs with "
        "DEBUG = False, also set GANCAPTCHA_TEST_MODE_ALLOW_WITHOUT_DEBUG = True."
    )
    W003 = 'Add path("gancaptcha/", include("gancaptcha_field.urls")) to your URLconf.'
    E010 = "Retrain or reinstall the models; the log has the full error."
    E011 = (
        "Rates look like '10/m' or '5/30s' (or None), for the actions create, "
        "image and fail; GANCAPTCHA_CLIENT_IP is 'REMOTE_ADDR', a request.META "
        "key, or the number of trusted proxies; GANCAPTCHA_RATELIMIT_CACHE names "
        "a cache in CACHES."
    )
    W010 = f'Add "{_MIDDLEWARE}" to MIDDLEWARE.'
    W012 = "Set GANCAPTCHA_HARDEN = True as well, or turn GANCAPTCHA_TRAP off."
    W013 = (
        "Give it a rate, e.g. 'no_reading': '3/h' (the default). The shipped "
        "login forms offer the way whatever GANCAPTCHA_NO_READING says."
    )
    E012 = (
        "Point GANCAPTCHA_RATELIMIT_CACHE at a shared cache (Redis, Memcached), "
        "or set GANCAPTCHA_RATELIMIT_ENABLED = False to go without limits."
    )
    E013 = "Point GANCAPTCHA_RATELIMIT_CACHE at Redis or Memcached."


class When:
    """What fires each check, one sentence each: the check reference in the
    docs (docs/checks.md) is rendered from Messages, Hints and this."""

    W001 = (
        "The model directory (GANCAPTCHA_MODEL_DIR, or the models shipped in the "
        "package) lacks a .keras model file or metadata.json. Skipped on pool-only "
        "hosts "
        "(GANCAPTCHA_SOURCE = 'pool'), which never read the models."
    )
    W004 = (
        "A model set trained before the ONNX files existed: metadata.json and the "
        ".keras files are there, the .onnx files are not. Skipped on pool-only hosts."
    )
    E001 = (
        "metadata.json is unreadable or of another model format or size, or a "
        "model file fails its sha256 checksum (a mixed or damaged set). Skipped "
        "on pool-only hosts."
    )
    E002 = (
        "GANCAPTCHA_MODEL_DIR = None on a host that draws challenges (not pool-only)."
    )
    W002 = (
        "GANCAPTCHA_TEST_MODE and GANCAPTCHA_TEST_MODE_ALLOW_WITHOUT_DEBUG are on "
        "while DEBUG is False: test mode acts, so the answer PASS passes."
    )
    W003 = "gancaptcha_field.urls is not included in the URLconf (ROOT_URLCONF)."
    E010 = (
        "Only with `manage.py check --deploy`, which loads the models: files that "
        "pass their checksums do not load."
    )
    E011 = (
        "GANCAPTCHA_RATELIMIT_RATES is not a dict, names an unknown action or has "
        "an unparsable rate; GANCAPTCHA_CLIENT_IP is not a str or a non-negative "
        "int; or GANCAPTCHA_RATELIMIT_CACHE is not in CACHES."
    )
    E020 = (
        "A GANCAPTCHA_* setting has a value of the wrong type or range (one error "
        "per setting)."
    )
    W020 = (
        "A setting of the last release is set (GANCAPTCHA_POW_MIN_TRIES, "
        "GANCAPTCHA_POOL_ONLY, GANCAPTCHA_READER_THRESHOLD, ...): one warning per "
        "new setting, naming every old one read into it."
    )
    E021 = "GANCAPTCHA_STORE is neither 'database' nor 'cache'."
    E022 = (
        "GANCAPTCHA_STORE = 'cache' and GANCAPTCHA_CACHE_ALIAS names no entry of "
        "CACHES."
    )
    E023 = (
        "GANCAPTCHA_TEST_MODE is on while DEBUG is False and "
        "GANCAPTCHA_TEST_MODE_ALLOW_WITHOUT_DEBUG is off, so test mode is refused."
    )
    W010 = (
        "GANCAPTCHA_RATELIMIT_ENABLED is on and "
        "gancaptcha_field.ratelimit.RateLimitMiddleware is not in MIDDLEWARE."
    )
    W012 = "GANCAPTCHA_TRAP is on and GANCAPTCHA_HARDEN is off."
    W013 = (
        "Rate limits are on and GANCAPTCHA_RATELIMIT_RATES sets the no_reading "
        "rate to None."
    )
    E012 = (
        "Rate limits are on, DEBUG is False, and GANCAPTCHA_RATELIMIT_CACHE is a "
        "local-memory or dummy cache. (It replaces the former warning W011.)"
    )
    E013 = (
        "Rate limits are on and GANCAPTCHA_RATELIMIT_CACHE is a database or "
        "file-based cache."
    )


def check_models(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """W001 models missing, W004 not exported to ONNX, E001 incompatible or
    corrupt, E002 not configured."""
    if not current_source().draws:
        return []  # serves from the pool only: never reads the model directory
    model_dir = conf.MODEL_DIR
    status = artifacts.inspect_model_dir(model_dir)
    if status.ok:
        return []
    if model_dir is None or status.code == "not_configured":
        return [_issue("E002")]
    if status.code == "missing":
        return [_issue("W001", detail=status.message)]
    if status.code == "not_exported":
        return [_issue("W004", detail=status.message)]
    return [_issue("E001", detail=status.message)]


def _issue(code: str, **values: object) -> checks.CheckMessage:
    """The check message ``code`` (E... an Error, W... a Warning): its text
    from Messages (formatted with ``values``), its hint and its stable id."""
    kind = checks.Error if code.startswith("E") else checks.Warning
    message = getattr(Messages, code).format(**values)
    hint = getattr(Hints, code).format(**values)
    return kind(message, hint=hint, id=f"gancaptcha_field.{code}")


def check_test_mode(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """E023 test mode refused without DEBUG; W002 allowed without DEBUG anyway."""
    if not conf.TEST_MODE or settings.DEBUG is True:
        return []
    if conf.TEST_MODE_ALLOW_WITHOUT_DEBUG:
        return [_issue("W002")]
    return [_issue("E023")]


def check_settings(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """E020: one error per setting (or dict key) with a value of the wrong
    type or range; W020 settings of the last release in use, one warning per
    setting that replaces them; W012 the trap set without the hardening it is
    meant with."""
    found = [_issue("E020", detail=problem) for problem in conf.problems()]
    for use in deprecated_in_use():
        found.append(
            _issue("W020", old=", ".join(use.old), new=use.setting, line=use.line)
        )
    if conf.TRAP and not conf.HARDEN:
        found.append(_issue("W012"))
    return found


def check_store(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """E021 unknown GANCAPTCHA_STORE, E022 its cache alias missing from CACHES."""
    value = getattr(settings, "GANCAPTCHA_STORE", "database")
    if conf.STORE is None:
        return [_issue("E021", value=value)]
    alias = conf.CACHE_ALIAS
    if conf.STORE == "cache" and alias not in settings.CACHES:
        return [_issue("E022", alias=alias)]
    return []


def check_urls(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """W003: the widget links to views that must be routable."""
    try:
        reverse("gancaptcha:refresh")
    except NoReverseMatch:
        return [_issue("W003")]
    return []


def check_models_load(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """E010 (deploy only, as it loads the models): sound files that do not load."""
    if not current_source().draws or not artifacts.inspect_model_dir(conf.MODEL_DIR).ok:
        return []  # never loads the models, or check_models has said why
    status = registry.get_registry().status()
    if status.ok:
        return []
    return [_issue("E010", detail=status.message)]


def check_ratelimit(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """E011 bad rate settings, W010 middleware missing, W013 the way without
    reading unlimited."""
    problems = []
    try:
        rates = conf.RATELIMIT_RATES
    except TypeError:
        rates = {}
        problems.append("GANCAPTCHA_RATELIMIT_RATES is not a dict")
    for action in sorted(set(rates) - set(ratelimit.ACTIONS), key=str):
        problems.append(f"unknown action {action!r}")
    for action in ratelimit.ACTIONS if rates else ():
        try:
            ratelimit.rate_for(action)
        except ValueError as exc:
            problems.append(str(exc))
    client_ip = conf.CLIENT_IP
    if isinstance(client_ip, bool) or not isinstance(client_ip, (str, int)):
        problems.append(f"GANCAPTCHA_CLIENT_IP is {client_ip!r}")
    elif isinstance(client_ip, int) and client_ip < 0:
        problems.append("GANCAPTCHA_CLIENT_IP is negative")
    if conf.RATELIMIT_CACHE not in settings.CACHES:
        problems.append(f"no cache {conf.RATELIMIT_CACHE!r} in CACHES")
    if problems:
        return [_issue("E011", detail="; ".join(problems))]
    if not conf.RATELIMIT_ENABLED:
        return []
    found: list[checks.CheckMessage] = []
    if _MIDDLEWARE not in settings.MIDDLEWARE:
        found.append(_issue("W010"))
    if rates.get(ratelimit.NO_READING, "") is None:
        found.append(_issue("W013"))
    return found


# Caches that count per process, and caches whose incr() is a get then a set.
_PER_PROCESS_CACHES = ("LocMemCache", "DummyCache")
_NON_ATOMIC_CACHES = ("DatabaseCache", "FileBasedCache")


def check_ratelimit_cache(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """E012 limits counted per process (DEBUG off), E013 counted non-atomically."""
    if not conf.RATELIMIT_ENABLED:
        return []
    entry = settings.CACHES.get(conf.RATELIMIT_CACHE)
    if not isinstance(entry, dict):
        return []  # check_ratelimit (E011) says so
    backend = str(entry.get("BACKEND", ""))
    name = backend.rsplit(".", 1)[-1]
    if name in _PER_PROCESS_CACHES and not settings.DEBUG:
        return [_issue("E012", backend=name)]
    if name in _NON_ATOMIC_CACHES:
        return [_issue("E013", backend=name)]
    return []


def register() -> None:
    """Register the checks; safe to call more than once (Django keeps a set)."""
    checks.register(check_models, TAG)
    checks.register(check_test_mode, TAG, checks.Tags.security)
    checks.register(check_settings, TAG)
    checks.register(check_store, TAG)
    checks.register(check_urls, TAG, checks.Tags.urls)
    checks.register(check_models_load, TAG, deploy=True)
    checks.register(check_ratelimit, TAG, checks.Tags.security)
    checks.register(check_ratelimit_cache, TAG, checks.Tags.security)
