"""Internal. Settings, read from django.conf.settings on every access (never frozen).

Each ``GANCAPTCHA_*`` setting is declared once, as a ``Setting`` on the
``Settings`` class: its default, its strict parser, what an invalid value reads
as, and its help text (the docs' settings reference is generated from
``declared()``). Parsing is strict: a boolean is ``True`` or ``False`` and
nothing else (an environment variable's ``"False"`` is not ``False``), an
integer is an ``int``. An invalid value never counts as true: it reads as a
safe value (``False`` for every boolean, no store for STORE, no preload for
PRELOAD, the default for the rest) and ``Settings.problems()`` names it, for
the system check E020. The dict settings (POW, POOL, DRAW, SERVING_RULE) take
partial dicts: the keys they name override the defaults, each key parsed and
falling back on its own.

The settings this release renamed or folded into dicts still work for one
release (``DEPRECATED``): each is read into its new setting unless that names
the same value itself, and ``deprecated_in_use()`` feeds the check W020.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypedDict, TypeVar, cast, overload

from django.conf import settings
from django.utils.functional import empty

T = TypeVar("T")

# Per client address: challenges issued (page renders and refreshes), images
# fetched, and failed answers.
DEFAULT_RATELIMIT_RATES: dict[str, str | None] = {
    "create": "30/m",
    "image": "120/m",
    "fail": "10/m",
    # Only with GANCAPTCHA_POW["answers"]: answers sent without a proof-of-work.
    "nojs": "3/m",
    # Audio files fetched (each play of a new challenge's digits).
    "audio": "10/m",
    # Puzzles of the way through without reading (GANCAPTCHA_NO_READING).
    "no_reading": "3/h",
}

STORES = ("database", "cache")
# GANCAPTCHA_SOURCE's values, and the Source kind each names (supply/source.py).
SOURCES = {"pool-then-draw": "pool_then_draw", "pool": "pool_only", "draw": "draw_only"}
PREFIX = "GANCAPTCHA_"


# --- Parsers: return the value, or raise ValueError saying what is wrong. ---


def parse_bool(value: object) -> bool:
    """True or False only; ValueError for anything else ("False", 0, "off")."""
    if value is True or value is False:
        return value
    raise ValueError(f"must be True or False, not {value!r}")


def _int_at_least(minimum: int) -> Callable[[object], int]:
    def parse(value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"must be an int, not {value!r}")
        if value < minimum:
            raise ValueError(f"must be at least {minimum}, not {value!r}")
        return value

    return parse


def _optional(parse: Callable[[object], T]) -> Callable[[object], T | None]:
    return lambda value: None if value is None else parse(value)


def _number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"must be a number, not {value!r}")
    return float(value)


def _probability(value: object) -> float:
    number = _number(value)
    if not 0.0 <= number <= 1.0:
        raise ValueError(f"must be between 0 and 1, not {value!r}")
    return number


def _positive_number(value: object) -> float:
    number = _number(value)
    if not number > 0:
        raise ValueError(f"must be above 0, not {value!r}")
    return number


def _non_negative(value: object) -> float:
    number = _number(value)
    if not number >= 0:
        raise ValueError(f"must be at least 0, not {value!r}")
    return number


def _one_of(choices: tuple[str, ...]) -> Callable[[object], str]:
    def parse(value: object) -> str:
        if value not in choices:
            names = ", ".join(repr(c) for c in choices)
            raise ValueError(f"must be one of {names}, not {value!r}")
        return str(value)

    return parse


def _text(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"must be a non-empty str, not {value!r}")
    return value


def _preload(value: object) -> bool | str:
    return "auto" if value == "auto" else parse_bool(value)


def _model_dir(value: object) -> Path | None:
    if value is None:
        return None
    if not isinstance(value, (str, os.PathLike)) or value == "":
        raise ValueError(f"must be a path or None, not {value!r}")
    return Path(value)


def _rates(value: object) -> dict[str, str | None]:
    # Not a mapping: a TypeError on purpose, for ratelimit.rate_for and the
    # check E011, which check the rates themselves (not E020).
    return {**DEFAULT_RATELIMIT_RATES, **cast(Mapping[str, str | None], value)}


# What W020 suggests in place of an old value that is itself invalid (E020
# names it): "..." for the site to fill in, never the invalid value again.
INVALID_OLD_VALUE: Any = object()


def _parses(parse: Callable[[object], Any], value: object) -> bool:
    try:
        parse(value)
    except (ValueError, TypeError):
        return False
    return True


def _as_is(value: object) -> Any:
    return value  # checked by E011 (check_ratelimit), not here


def python_literal(value: object) -> str:
    """``value`` as a settings file would spell it (dict keys in double quotes)."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, dict):
        items = ", ".join(
            f"{python_literal(k)}: {python_literal(v)}" for k, v in value.items()
        )
        return "{" + items + "}"
    return repr(value)


# --- The descriptors. ---

_UNSET: Any = object()


def _lookup(name: str) -> Any:
    """settings.<name>, or _UNSET when it is not set.

    Read from the configured settings object itself: a name that is not set
    (most of the old ones, every time) then costs an attribute miss, not an
    exception through LazySettings.__getattr__, which made the dict settings
    several times slower to read.
    """
    wrapped = cast(Any, settings)._wrapped  # the stubs type it as Settings
    if wrapped is empty:
        return getattr(settings, name, _UNSET)
    return getattr(wrapped, name, _UNSET)


@dataclass(frozen=True)
class Old:
    """A setting of an earlier release, read into a new one for one release."""

    name: str  # without the prefix: "POW_MIN_TRIES"
    key: str | None = None  # the new dict setting's key it fills, if any
    # From the old value to the new one; _UNSET: the old value says nothing
    # the new setting's default does not (GANCAPTCHA_POOL_ONLY = False).
    convert: Callable[[object], object] = _as_is
    # Whether W020 names it even when ``convert`` finds nothing in it.
    always: bool = True

    @property
    def full_name(self) -> str:
        return PREFIX + self.name


class Setting(Generic[T]):
    """One GANCAPTCHA_* setting, declared once on ``Settings``.

    ``name`` (the full name), ``default``, ``kind`` (short type text) and
    ``help`` (Markdown inline markup) are what the docs' reference shows.
    """

    name: str
    attr: str

    def __init__(
        self,
        default: T,
        parse: Callable[[object], T],
        *,
        kind: str,
        help: str,
        invalid: Any = _UNSET,
        old: tuple[Old, ...] = (),
        default_text: str | None = None,
    ) -> None:
        self._default = default
        self.parse = parse
        self.kind = kind
        self.help = help
        # What an invalid value reads as: never true for a boolean.
        if invalid is _UNSET:
            invalid = False if isinstance(default, bool) else default
        self.invalid: Any = invalid
        self.old = old
        self._default_text = default_text

    def __set_name__(self, owner: type, attr: str) -> None:
        self.attr = attr
        self.name = PREFIX + attr

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> Setting[T]: ...

    @overload
    def __get__(self, obj: Settings, owner: type | None = None) -> T: ...

    def __get__(
        self, obj: Settings | None, owner: type | None = None
    ) -> T | Setting[T]:
        if obj is None:
            return self
        return self.read()

    @property
    def default(self) -> T:
        """The value when the setting is unset."""
        return self._default

    @property
    def default_text(self) -> str:
        """The default as the reference shows it."""
        return self._default_text or python_literal(self.default)

    def raw(self) -> tuple[object, str]:
        """The value to parse and the setting it came from (new, else old)."""
        value = _lookup(self.name)
        if value is not _UNSET:
            return value, self.name
        for old in self.old:
            value = _lookup(old.full_name)
            if value is not _UNSET:
                value = old.convert(value)
                if value is not _UNSET:
                    return value, old.full_name
        return self.default, self.name

    def read(self) -> T:
        """The current value, parsed; an invalid one reads as ``invalid``."""
        value, _ = self.raw()
        try:
            return self.parse(value)
        except ValueError:  # the check E020 names it
            return cast(T, self.invalid)

    def problems(self) -> list[str]:
        """What is wrong with the current value, one line each (check E020)."""
        value, origin = self.raw()
        try:
            self.parse(value)
        except ValueError as exc:
            read_as = "" if origin == self.name else f" (read as {self.name})"
            return [f"{origin} {exc}{read_as}"]
        except TypeError:  # rates that are not a mapping: the check E011 names them
            return []
        return []

    def deprecated(self) -> tuple[list[str], object] | None:
        """The old names in use for this setting, and the value to write in
        their place; None when none is in use."""
        used = [
            old.full_name
            for old in self.old
            if (value := _lookup(old.full_name)) is not _UNSET
            and (old.always or old.convert(value) is not _UNSET)
        ]
        if not used:
            return None
        value, _ = self.raw()
        return used, value if _parses(self.parse, value) else INVALID_OLD_VALUE


@dataclass(frozen=True)
class Key:
    """One key of a dict setting: its default, parser and invalid reading."""

    default: Any
    parse: Callable[[object], Any]
    invalid: Any = _UNSET

    @property
    def fallback(self) -> Any:
        if self.invalid is not _UNSET:
            return self.invalid
        return False if isinstance(self.default, bool) else self.default


class DictSetting(Setting[T]):
    """A setting that is a dict of named keys; a partial dict overrides only
    the keys it names, and each key falls back on its own when invalid.

    ``partial``: the value holds only the keys set (SERVING_RULE, whose
    defaults come from the model set). ``old_form``: how a non-dict value of
    an earlier release reads (GANCAPTCHA_POW = True), or None.
    """

    def __init__(
        self,
        keys: dict[str, Key],
        *,
        kind: str,
        help: str,
        old: tuple[Old, ...] = (),
        partial: bool = False,
        old_form: Callable[[object], dict[str, object] | None] | None = None,
        finish: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        default = None if partial else {name: key.default for name, key in keys.items()}
        super().__init__(cast(T, default), _as_is, kind=kind, help=help, old=old)
        self.keys = keys
        self.partial = partial
        self.old_form = old_form
        self.finish = finish

    def _given(self) -> tuple[dict[str, tuple[object, str]], list[str]]:
        # Each key given, with the setting it came from: the old names first,
        # then the new dict over them (the new setting wins).
        given: dict[str, tuple[object, str]] = {}
        problems: list[str] = []
        for old in self.old:
            value = _lookup(old.full_name)
            if value is not _UNSET and old.key is not None:
                value = old.convert(value)
                if value is not _UNSET:
                    given[old.key] = (value, old.full_name)
        value = _lookup(self.name)
        if value is _UNSET:
            return given, problems
        if value is None and self.partial:
            return given, problems
        if self.old_form is not None and not isinstance(value, dict):
            translated = self.old_form(value)
            if translated is not None:
                given.update({k: (v, self.name) for k, v in translated.items()})
                return given, problems
        if not isinstance(value, dict):
            shape = "a dict or None" if self.partial else "a dict"
            problems.append(f"{self.name} must be {shape}, not {value!r}")
            return given, problems
        for name, item in value.items():
            if name in self.keys:
                given[name] = (item, self.name)
            else:
                known = ", ".join(repr(k) for k in self.keys)
                problems.append(f"{self.name} has no key {name!r} (keys: {known})")
        return given, problems

    def _parsed(self) -> tuple[dict[str, Any], list[str]]:
        given, problems = self._given()
        values: dict[str, Any] = (
            {} if self.partial else {n: k.default for n, k in self.keys.items()}
        )
        for name, (value, origin) in given.items():
            key = self.keys[name]
            try:
                values[name] = key.parse(value)
            except ValueError as exc:
                if origin == self.name:
                    problems.append(f"{self.name}[{name!r}] {exc}")
                else:
                    problems.append(f"{origin} {exc} (read as {self.name}[{name!r}])")
                if not self.partial:
                    values[name] = key.fallback
        if self.finish is not None:
            self.finish(values)
        return values, problems

    def read(self) -> T:
        return cast(T, self._parsed()[0])

    def problems(self) -> list[str]:
        return self._parsed()[1]

    def deprecated(self) -> tuple[list[str], object] | None:
        used = [
            old.full_name for old in self.old if _lookup(old.full_name) is not _UNSET
        ]
        value = _lookup(self.name)
        old_form = (
            self.old_form is not None
            and value is not _UNSET
            and not isinstance(value, dict)
            and self.old_form(value) is not None
        )
        if old_form:
            used.insert(0, f"{self.name} = {python_literal(value)}")
        if not used:
            return None
        # The line to write: every valid key the old names and the new dict
        # give (an invalid one E020 names; copying it would only move it).
        given, _ = self._given()
        return used, {
            name: value
            for name, (value, _origin) in given.items()
            if name in self.keys and _parses(self.keys[name].parse, value)
        }


# --- The dict settings' shapes. ---


class RuleOverride(TypedDict, total=False):
    reader_threshold: float
    verifier_threshold: float
    margin: float


class Draw(TypedDict):
    batch_size: int
    bucket_size: int
    max_batches: int
    latent_bank: bool


class Pool(TypedDict):
    size: int
    low_water: int
    batch: int
    reserve: int
    autofill: bool


class Pow(TypedDict):
    answers: bool
    iterations: int
    min_tries: int
    max_tries: int
    attack_rate: float
    no_reading_min_tries: int
    no_reading_max_tries: int
    no_reading_attack_rate: float


def _finish_pool(values: dict[str, Any]) -> None:
    # Unset low water: a batch short of full, so a worker keeps drawing while
    # visitors take instead of idling until the pool is nearly drained; or
    # half full if that is higher: never 0, under which a pool never refills.
    if values["low_water"] is None:
        size = values["size"]
        values["low_water"] = size - min(values["batch"], size // 2)


def _finish_pow(values: dict[str, Any]) -> None:
    # The most tries are never fewer than the fewest.
    values["max_tries"] = max(values["min_tries"], values["max_tries"])
    values["no_reading_max_tries"] = max(
        values["no_reading_min_tries"], values["no_reading_max_tries"]
    )


def _pow_old_form(value: object) -> dict[str, object] | None:
    # GANCAPTCHA_POW = True / False, before it became a dict.
    return {"answers": value} if isinstance(value, bool) else None


def _pool_only_source(value: object) -> object:
    # POOL_ONLY = True named the pool-only source; False named nothing.
    if value is True:
        return "pool"
    return _UNSET if value is False else value


def _pool_size_source(value: object) -> object:
    # POOL_SIZE = 0 meant no pool: every challenge drawn on the spot. Only an
    # int 0 (not 0.0, which E020 names), and not once GANCAPTCHA_POOL names a
    # size of its own: the new setting wins.
    pool = _lookup("GANCAPTCHA_POOL")
    if isinstance(pool, dict) and "size" in pool:
        return _UNSET
    return "draw" if type(value) is int and value == 0 else _UNSET


class _ModelDir(Setting[Path | None]):
    """MODEL_DIR, whose default depends on where the package is installed."""

    @property
    def default(self) -> Path | None:
        # The models shipped in the wheel, or ml_models/ beside the package in
        # a source checkout.
        package = Path(__file__).resolve().parent
        shipped = package / "shipped_models"
        return shipped if shipped.is_dir() else package.parent / "ml_models"


class Settings:
    """One ``Setting`` per GANCAPTCHA_* setting; the defaults live only here."""

    MODEL_DIR: Setting[Path | None] = _ModelDir(
        None,
        _model_dir,
        kind="path or None",
        invalid=None,
        default_text="the models shipped with the package",
        help=(
            "The directory of the model set: the ONNX models, `metadata.json` and "
            "the latent bank. Unset: the models shipped with the package (or "
            "`ml_models/` in a source checkout). `None`: no models, so the field "
            "says it is unavailable (check E002). `train_captcha_models` writes "
            "a set here."
        ),
    )
    SERVING_RULE: DictSetting[RuleOverride] = DictSetting(
        {
            "reader_threshold": Key(None, _probability),
            "verifier_threshold": Key(None, _probability),
            "margin": Key(None, _non_negative),
        },
        kind="dict or None",
        partial=True,
        old=(
            Old("READER_THRESHOLD", "reader_threshold"),
            Old("VERIFIER_THRESHOLD", "verifier_threshold"),
            Old("MARGIN", "margin"),
        ),
        help=(
            "What a drawn digit must pass to be served. `None`: the rule the "
            "model set records in its `metadata.json`, the one it was "
            "calibrated for. A dict overrides the keys it names: "
            "`reader_threshold` (the reader's least confidence, 0 to 1), "
            "`verifier_threshold` (the independent verifier's, 0 to 1) and "
            "`margin` (how far both must rank the label above the next, "
            "ln(top1 / top2); 0 turns it off). Higher values serve clearer "
            "digits and cost more draws."
        ),
    )
    TIMEOUT: Setting[int] = Setting(
        300,
        _int_at_least(1),
        kind="int >= 1",
        help="Seconds a challenge can be answered after it is issued.",
    )
    IMAGE_SCALE: Setting[int] = Setting(
        2,
        _int_at_least(1),
        kind="int >= 1",
        help=(
            "How many times the 28-pixel digits are enlarged in the image. "
            "Pooled challenges of another scale are not served."
        ),
    )
    INLINE_IMAGE: Setting[bool] = Setting(
        False,
        parse_bool,
        kind="bool",
        help=(
            "Send the images inside the page and the refresh JSON as `data:` "
            "URIs instead of links (a Content Security Policy must then allow "
            "`img-src data:`)."
        ),
    )
    HARDEN: Setting[bool] = Setting(
        False,
        parse_bool,
        kind="bool",
        help=(
            "Opt-in: draw the crossing layout (neighbouring digits overlap) "
            "instead of equal cells, which stock solvers segment far less "
            "often."
        ),
    )
    TRAP: Setting[bool] = Setting(
        False,
        parse_bool,
        kind="bool",
        help=(
            "Opt-in: keep what stock solvers misread in each challenge; an "
            "answer that repeats their mistake is a bot signal (the "
            "`challenge_trapped` signal). Meant with `GANCAPTCHA_HARDEN` "
            "(check W012)."
        ),
    )
    TRAP_PENALTY: Setting[int] = Setting(
        4,
        _int_at_least(0),
        kind="int >= 0",
        help=(
            "Failures counted against the client, on top of the one every "
            "wrong answer costs, when an answer springs the trap."
        ),
    )
    STORE: Setting[str | None] = Setting(
        "database",
        _one_of(STORES),
        kind='"database" or "cache"',
        # An invalid store is a 503 (check E021), never a silent switch.
        invalid=None,
        help=(
            'Where live challenges are kept: `"database"` (a table, used at '
            'most once even across processes) or `"cache"` (the cache named '
            "by `GANCAPTCHA_CACHE_ALIAS`)."
        ),
    )
    CACHE_ALIAS: Setting[str] = Setting(
        "default",
        _text,
        kind="str",
        help='The cache in `CACHES` that `GANCAPTCHA_STORE = "cache"` uses.',
    )
    SYNCHRONOUS_COMMIT: Setting[bool] = Setting(
        False,
        parse_bool,
        kind="bool",
        help=(
            "PostgreSQL only: whether issuing a challenge waits for its row to "
            "reach the disk. Off, a page view costs no fsync; a crash can lose "
            "challenges issued in its last moments, never let one be used twice."
        ),
    )
    SOURCE: Setting[str] = Setting(
        "pool-then-draw",
        _one_of(tuple(SOURCES)),
        kind='"pool-then-draw", "pool" or "draw"',
        old=(
            Old("POOL_ONLY", None, _pool_only_source),
            Old("POOL_SIZE", None, _pool_size_source, always=False),
        ),
        help=(
            'Where new challenges come from. `"pool-then-draw"`: a pre-rendered '
            "challenge from the pool, else one drawn on the spot, and the "
            'process refills the pool when it runs low. `"pool"`: only the '
            "pool; the process never loads the models (an empty pool is a 503), "
            "for web hosts fed by `captcha_fill_pool` elsewhere. "
            '`"draw"`: every challenge drawn on the spot, no pool.'
        ),
    )
    POOL: DictSetting[Pool] = DictSetting(
        {
            "size": Key(4000, _int_at_least(0)),
            "low_water": Key(None, _optional(_int_at_least(0))),
            "batch": Key(64, _int_at_least(1)),
            "reserve": Key(16, _int_at_least(1)),
            "autofill": Key(True, parse_bool),
        },
        kind="dict",
        finish=_finish_pool,
        old=(
            Old("POOL_SIZE", "size"),
            Old("POOL_LOW_WATER", "low_water"),
            Old("POOL_BATCH", "batch"),
            Old("POOL_RESERVE", "reserve"),
            Old("POOL_AUTOFILL", "autofill"),
        ),
        help=(
            "The pool of pre-rendered challenges; a partial dict overrides the "
            "keys it names. `size`: how many to keep (`captcha_fill_pool` fills "
            "to it). `low_water`: refill when fewer remain (`None`: a batch "
            "short of full, or half full if that is more). `batch`: challenges "
            "drawn per refill step. `reserve`: the most a process takes in one "
            "statement, as fast as it hands them out. `autofill`: whether "
            "serving processes refill the pool themselves."
        ),
    )
    DRAW: DictSetting[Draw] = DictSetting(
        {
            "batch_size": Key(64, _int_at_least(1)),
            "bucket_size": Key(64, _int_at_least(1)),
            "max_batches": Key(40, _int_at_least(1)),
            "latent_bank": Key(True, parse_bool),
        },
        kind="dict",
        old=(
            Old("BATCH_SIZE", "batch_size"),
            Old("BUCKET_SIZE", "bucket_size"),
            Old("MAX_BATCHES", "max_batches"),
            Old("LATENT_BANK", "latent_bank"),
        ),
        help=(
            "Tuning of the drawing; the defaults suit most sites. "
            "`batch_size`: digits drawn per model call. `bucket_size`: checked "
            "digits kept waiting per label. `max_batches`: model calls tried "
            "for one label before the challenge fails closed (a 503). "
            "`latent_bank`: draw near the model set's `latents.npz` when it has "
            "one (`False`: plain noise, far more draws per served digit)."
        ),
    )
    PRELOAD: Setting[bool | str] = Setting(
        "auto",
        _preload,
        kind='bool or "auto"',
        # Loading the models is never forced by a value nobody could read.
        invalid=False,
        help=(
            "Load the models when the app starts: `True`, `False`, or "
            '`"auto"` (only in processes that serve requests, not in `migrate` '
            "or other commands)."
        ),
    )
    TEST_MODE: Setting[bool] = Setting(
        False,
        parse_bool,
        kind="bool",
        help=(
            'For your tests: the answer `"PASS"` passes every challenge. Acts '
            "only while `DEBUG` is on, unless "
            "`GANCAPTCHA_TEST_MODE_ALLOW_WITHOUT_DEBUG` is also set (checks "
            "E023, W002). Never in production."
        ),
    )
    TEST_MODE_ALLOW_WITHOUT_DEBUG: Setting[bool] = Setting(
        False,
        parse_bool,
        kind="bool",
        help=(
            "Let `GANCAPTCHA_TEST_MODE` act with `DEBUG` off, for test setups "
            "that run with `DEBUG = False` (check W002 warns)."
        ),
    )
    RATELIMIT_ENABLED: Setting[bool] = Setting(
        True,
        parse_bool,
        kind="bool",
        help=(
            "Limit, per client address, challenges issued, images fetched and "
            "failed answers (needs `RateLimitMiddleware`, check W010)."
        ),
    )
    RATELIMIT_RATES: Setting[dict[str, str | None]] = Setting(
        dict(DEFAULT_RATELIMIT_RATES),
        _rates,
        kind="dict",
        help=(
            'Rates per action, such as `"10/m"` or `"5/30s"`; `None`: '
            "unlimited. A partial dict overrides the actions it names: "
            "`create` (challenges issued), `image`, `fail` (wrong answers), "
            "`nojs` (answers without the proof-of-work while it is on), "
            "`audio` and `no_reading` (puzzles of the way through without "
            "reading). Checked by E011."
        ),
    )
    RATELIMIT_CACHE: Setting[str] = Setting(
        "default",
        str,
        kind="str",
        help=(
            "The cache in `CACHES` the rate limits count in: a shared one "
            "(Redis, Memcached) when several processes serve (checks E012, E013)."
        ),
    )
    CLIENT_IP: Setting[str | int] = Setting(
        "REMOTE_ADDR",
        _as_is,
        kind="str or int",
        help=(
            'Where the client address comes from: `"REMOTE_ADDR"`, another '
            "`request.META` key a trusted proxy sets, or the number of trusted "
            "proxies in front (the address that many from the right of "
            "`X-Forwarded-For`). Never `X-Forwarded-For` by default: any "
            "client can write it."
        ),
    )
    POW: DictSetting[Pow] = DictSetting(
        {
            "answers": Key(False, parse_bool),
            "iterations": Key(2000, _int_at_least(1)),
            "min_tries": Key(8, _int_at_least(1)),
            "max_tries": Key(1000, _int_at_least(1)),
            "attack_rate": Key(60.0, _positive_number),
            "no_reading_min_tries": Key(6000, _int_at_least(1)),
            "no_reading_max_tries": Key(30000, _int_at_least(1)),
            "no_reading_attack_rate": Key(30.0, _positive_number),
        },
        kind="dict",
        old_form=_pow_old_form,
        finish=_finish_pow,
        old=(
            Old("POW_ITERATIONS", "iterations"),
            Old("POW_MIN_TRIES", "min_tries"),
            Old("POW_MAX_TRIES", "max_tries"),
            Old("POW_ATTACK_RATE", "attack_rate"),
            Old("NO_READING_MIN_TRIES", "no_reading_min_tries"),
            Old("NO_READING_MAX_TRIES", "no_reading_max_tries"),
            Old("NO_READING_ATTACK_RATE", "no_reading_attack_rate"),
        ),
        help=(
            "Proof-of-work puzzles the browser solves (PBKDF2-SHA256); a partial "
            "dict overrides the keys it names. `answers`: every typed answer "
            "needs one (opt-in). `iterations`: per try, about 1 ms of one core. "
            "`min_tries` / `max_tries`: expected tries of the answer's puzzle "
            "on a quiet site and at `attack_rate` failed answers per minute, "
            "site-wide. `no_reading_min_tries`, `no_reading_max_tries` and "
            "`no_reading_attack_rate`: the same for the way through without "
            "reading, whose puzzle takes a few seconds of a visitor's browser."
        ),
    )
    NO_READING: Setting[bool] = Setting(
        True,
        parse_bool,
        kind="bool",
        help=(
            "Offer the way through without reading (a longer proof-of-work "
            "puzzle, WCAG 2.2 SC 3.3.8) on every field that does not say "
            "otherwise. The shipped login forms always offer it."
        ),
    )

    @property
    def TEST_ANSWER(self) -> str:
        # Four characters so that it fits the answer input (maxlength 4), and
        # never a real answer, which is always four digits.
        return "PASS"

    def test_mode_active(self) -> bool:
        """TEST_MODE, with DEBUG on or TEST_MODE_ALLOW_WITHOUT_DEBUG also set."""
        return self.TEST_MODE and (
            settings.DEBUG is True or self.TEST_MODE_ALLOW_WITHOUT_DEBUG
        )

    def problems(self) -> list[str]:
        """One line per invalid setting or key (for the check E020)."""
        found: list[str] = []
        for setting in declared():
            found.extend(setting.problems())
        return found


def declared() -> list[Setting[Any]]:
    """Every setting, in declaration order (for the docs and the checks)."""
    return [v for v in vars(Settings).values() if isinstance(v, Setting)]


def _replacement(setting: Setting[Any], old: Old) -> str:
    if old.key is not None:
        return f'{setting.name} = {{"{old.key}": ...}}'
    if setting.attr == "SOURCE" and old.name == "POOL_ONLY":
        return f'{setting.name} = "pool" (for True)'
    if setting.attr == "SOURCE" and old.name == "POOL_SIZE":
        return f'{setting.name} = "draw" (for 0)'
    return f"{setting.name} = ..."


def _deprecated() -> dict[str, str]:
    lines: dict[str, list[str]] = {}
    for setting in declared():
        for old in setting.old:
            lines.setdefault(old.full_name, []).append(_replacement(setting, old))
    found = {name: "; ".join(texts) for name, texts in lines.items()}
    found["GANCAPTCHA_POW"] = (
        'GANCAPTCHA_POW = {"answers": ...} (for GANCAPTCHA_POW = True or False)'
    )
    return found


# Each setting of the last release that is gone, with its replacement.
DEPRECATED: dict[str, str] = _deprecated()


@dataclass(frozen=True)
class Deprecation:
    """Old settings in use, and the line that replaces them (check W020)."""

    old: list[str]
    setting: str
    line: str


def deprecated_in_use() -> list[Deprecation]:
    """Per new setting, the old ones set in this project and the new line."""
    found = []
    for setting in declared():
        use = setting.deprecated()
        if use is not None:
            used, value = use
            shown = "..." if value is INVALID_OLD_VALUE else python_literal(value)
            line = f"{setting.name} = {shown}"
            found.append(Deprecation(used, setting.name, line))
    return found


conf = Settings()
