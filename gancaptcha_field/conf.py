"""Internal. Settings, read from django.conf.settings on every access (never frozen).

Typed settings are parsed strictly: a boolean is ``True`` or ``False`` and
nothing else (an environment variable's ``"False"`` is not ``False``), an
integer is an ``int``. An invalid value never counts as true: the property
falls back to a safe value (``False`` for every boolean, no store for
STORE, no preload for PRELOAD, the default for the rest) and
``Settings.problems()`` names it, for the system check E020.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings

from gancaptcha_field import constants

# Per client address: challenges issued (page renders and refreshes), images
# fetched, and failed answers.
DEFAULT_RATELIMIT_RATES: dict[str, str | None] = {
    "create": "30/m",
    "image": "120/m",
    "fail": "10/m",
    # Only with GANCAPTCHA_POW: answers sent without a proof-of-work.
    "nojs": "3/m",
    # Audio files fetched (each play of a new challenge's digits).
    "audio": "10/m",
    # Puzzles of the way through without reading (GANCAPTCHA_NO_READING).
    "no_reading": "3/h",
}

STORES = ("database", "cache")


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


def _optional(parse: Callable[[object], Any]) -> Callable[[object], Any]:
    return lambda value: None if value is None else parse(value)


def _probability(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"must be a number, not {value!r}")
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"must be between 0 and 1, not {value!r}")
    return float(value)


def _positive_number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"must be a number, not {value!r}")
    if not value > 0:
        raise ValueError(f"must be above 0, not {value!r}")
    return float(value)


def _non_negative(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"must be a number, not {value!r}")
    if not value >= 0:
        raise ValueError(f"must be at least 0, not {value!r}")
    return float(value)


def _store(value: object) -> str:
    if value not in STORES:
        raise ValueError(f"must be 'database' or 'cache', not {value!r}")
    return str(value)


def _text(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"must be a non-empty str, not {value!r}")
    return value


def _preload(value: object) -> bool | str:
    return "auto" if value == "auto" else parse_bool(value)


_AS_DEFAULT = object()


@dataclass(frozen=True)
class _Typed:
    default: Any
    parse: Callable[[object], Any]
    invalid: Any = _AS_DEFAULT  # what an invalid value reads as, if not `fallback`

    @property
    def fallback(self) -> Any:
        """What an invalid value reads as: never true for a boolean."""
        if self.invalid is not _AS_DEFAULT:
            return self.invalid
        return False if isinstance(self.default, bool) else self.default


_TYPED: dict[str, _Typed] = {
    "TIMEOUT": _Typed(300, _int_at_least(1)),
    "READER_THRESHOLD": _Typed(constants.DEFAULT_READER_THRESHOLD, _probability),
    "VERIFIER_THRESHOLD": _Typed(constants.DEFAULT_VERIFIER_THRESHOLD, _probability),
    "TEST_MODE": _Typed(False, parse_bool),
    "TEST_MODE_ALLOW_WITHOUT_DEBUG": _Typed(False, parse_bool),
    # Loading TensorFlow is never forced by a value nobody could read.
    "PRELOAD": _Typed("auto", _preload, invalid=False),
    "BATCH_SIZE": _Typed(64, _int_at_least(1)),
    "BUCKET_SIZE": _Typed(64, _int_at_least(1)),
    "MAX_BATCHES": _Typed(40, _int_at_least(1)),
    "IMAGE_SCALE": _Typed(2, _int_at_least(1)),
    # get_store() refuses None: a 503, not a silent switch to another store.
    "STORE": _Typed("database", _store, invalid=None),
    "CACHE_ALIAS": _Typed("default", _text),
    "POOL_SIZE": _Typed(1000, _int_at_least(0)),
    "POOL_LOW_WATER": _Typed(None, _optional(_int_at_least(0))),
    "POOL_BATCH": _Typed(64, _int_at_least(1)),
    "POOL_RESERVE": _Typed(16, _int_at_least(1)),
    "POOL_AUTOFILL": _Typed(True, parse_bool),
    "POOL_ONLY": _Typed(False, parse_bool),
    "SYNCHRONOUS_COMMIT": _Typed(False, parse_bool),
    "RATELIMIT_ENABLED": _Typed(True, parse_bool),
    "HARDEN": _Typed(False, parse_bool),
    "TRAP": _Typed(False, parse_bool),
    "TRAP_PENALTY": _Typed(4, _int_at_least(0)),
    "INLINE_IMAGE": _Typed(False, parse_bool),
    "LATENT_BANK": _Typed(True, parse_bool),
    "MARGIN": _Typed(constants.DEFAULT_MARGIN, _non_negative),
    "POW": _Typed(False, parse_bool),
    "POW_ITERATIONS": _Typed(2000, _int_at_least(1)),
    "POW_MIN_TRIES": _Typed(8, _int_at_least(1)),
    "POW_MAX_TRIES": _Typed(1000, _int_at_least(1)),
    "POW_ATTACK_RATE": _Typed(60, _positive_number),
    "NO_READING": _Typed(True, parse_bool),
    "NO_READING_MIN_TRIES": _Typed(6000, _int_at_least(1)),
    "NO_READING_MAX_TRIES": _Typed(30000, _int_at_least(1)),
    "NO_READING_ATTACK_RATE": _Typed(30, _positive_number),
}


class Settings:
    """One property per GANCAPTCHA_* setting; the defaults live only here."""

    def _get(self, name: str, default: Any) -> Any:
        return getattr(settings, f"GANCAPTCHA_{name}", default)

    def _typed(self, name: str) -> Any:
        spec = _TYPED[name]
        try:
            return spec.parse(self._get(name, spec.default))
        except ValueError:  # the check E020 names it
            return spec.fallback

    def problems(self) -> list[str]:
        """One line per typed setting whose value is invalid (for the checks)."""
        found = []
        for name, spec in _TYPED.items():
            try:
                spec.parse(self._get(name, spec.default))
            except ValueError as exc:
                found.append(f"GANCAPTCHA_{name} {exc}")
        return found

    @property
    def MODEL_DIR(self) -> Path | None:
        # Unset: the models shipped in the wheel, or ml_models/ beside the
        # package in a source checkout. An explicit None: no models (E002).
        unset = object()
        value = self._get("MODEL_DIR", unset)
        if value is unset:
            package = Path(__file__).resolve().parent
            shipped = package / "shipped_models"
            return shipped if shipped.is_dir() else package.parent / "ml_models"
        return None if value is None else Path(value)

    @property
    def TIMEOUT(self) -> int:
        return int(self._typed("TIMEOUT"))

    @property
    def READER_THRESHOLD(self) -> float:
        return float(self._typed("READER_THRESHOLD"))

    @property
    def VERIFIER_THRESHOLD(self) -> float:
        return float(self._typed("VERIFIER_THRESHOLD"))

    @property
    def TEST_MODE(self) -> bool:
        # As set; whether it may act is test_mode_active() below.
        return bool(self._typed("TEST_MODE"))

    @property
    def TEST_MODE_ALLOW_WITHOUT_DEBUG(self) -> bool:
        return bool(self._typed("TEST_MODE_ALLOW_WITHOUT_DEBUG"))

    def test_mode_active(self) -> bool:
        """TEST_MODE, with DEBUG on or TEST_MODE_ALLOW_WITHOUT_DEBUG also set."""
        return self.TEST_MODE and (
            settings.DEBUG is True or self.TEST_MODE_ALLOW_WITHOUT_DEBUG
        )

    @property
    def TEST_ANSWER(self) -> str:
        # Four characters so that it fits the answer input (maxlength 4), and
        # never a real answer, which is always four digits.
        return "PASS"

    @property
    def PRELOAD(self) -> bool | str:
        value: bool | str = self._typed("PRELOAD")
        return value

    @property
    def BATCH_SIZE(self) -> int:
        return int(self._typed("BATCH_SIZE"))

    @property
    def BUCKET_SIZE(self) -> int:
        return int(self._typed("BUCKET_SIZE"))

    @property
    def MAX_BATCHES(self) -> int:
        return int(self._typed("MAX_BATCHES"))

    @property
    def IMAGE_SCALE(self) -> int:
        return int(self._typed("IMAGE_SCALE"))

    @property
    def STORE(self) -> str | None:
        # "database" (the Challenge table) or "cache" (CACHE_ALIAS); None if
        # the setting is invalid.
        value: str | None = self._typed("STORE")
        return value

    @property
    def CACHE_ALIAS(self) -> str:
        return str(self._typed("CACHE_ALIAS"))

    @property
    def POOL_SIZE(self) -> int:
        # 0: no pool, every challenge is drawn when it is asked for.
        return int(self._typed("POOL_SIZE"))

    @property
    def POOL_LOW_WATER(self) -> int:
        # By default a batch short of full: a worker keeps drawing while
        # visitors take, instead of idling until the pool is nearly drained.
        # Or half full if that is higher: never 0, under which a pool never
        # refills.
        value = self._typed("POOL_LOW_WATER")
        if value is None:
            size = self.POOL_SIZE
            return size - min(self.POOL_BATCH, size // 2)
        return int(value)

    @property
    def POOL_BATCH(self) -> int:
        return int(self._typed("POOL_BATCH"))

    @property
    def POOL_RESERVE(self) -> int:
        # Most pooled challenges a process takes in one statement (1: one at
        # a time); it takes more only as fast as it hands them out.
        return int(self._typed("POOL_RESERVE"))

    @property
    def POOL_AUTOFILL(self) -> bool:
        return bool(self._typed("POOL_AUTOFILL"))

    @property
    def POOL_ONLY(self) -> bool:
        return bool(self._typed("POOL_ONLY"))

    @property
    def SYNCHRONOUS_COMMIT(self) -> bool:
        # PostgreSQL only: whether issuing a challenge waits for the disk.
        return bool(self._typed("SYNCHRONOUS_COMMIT"))

    @property
    def RATELIMIT_ENABLED(self) -> bool:
        return bool(self._typed("RATELIMIT_ENABLED"))

    @property
    def RATELIMIT_RATES(self) -> dict[str, str | None]:
        # A partial dict overrides only the actions it names; None: unlimited.
        return {**DEFAULT_RATELIMIT_RATES, **self._get("RATELIMIT_RATES", {})}

    @property
    def RATELIMIT_CACHE(self) -> str:
        return str(self._get("RATELIMIT_CACHE", "default"))

    @property
    def CLIENT_IP(self) -> str | int:
        # Never X-Forwarded-For by default: any client can write that header.
        value: str | int = self._get("CLIENT_IP", "REMOTE_ADDR")
        return value

    @property
    def POW(self) -> bool:
        # Opt-in proof-of-work before every answer (pow.py).
        return bool(self._typed("POW"))

    @property
    def POW_ITERATIONS(self) -> int:
        # PBKDF2 iterations per try: about 1 ms of one core, native or browser.
        return int(self._typed("POW_ITERATIONS"))

    @property
    def POW_MIN_TRIES(self) -> int:
        # Expected tries when the site is quiet.
        return int(self._typed("POW_MIN_TRIES"))

    @property
    def POW_MAX_TRIES(self) -> int:
        # Expected tries at GANCAPTCHA_POW_ATTACK_RATE failures per minute.
        return max(self.POW_MIN_TRIES, int(self._typed("POW_MAX_TRIES")))

    @property
    def POW_ATTACK_RATE(self) -> float:
        # Site-wide failed attempts per minute taken as an attack.
        return float(self._typed("POW_ATTACK_RATE"))

    @property
    def NO_READING(self) -> bool:
        # The way through without reading (no_reading.py), offered by every
        # field that does not say otherwise; the shipped login forms always
        # offer it (WCAG 2.2, SC 3.3.8).
        return bool(self._typed("NO_READING"))

    @property
    def NO_READING_MIN_TRIES(self) -> int:
        # Expected PBKDF2 tries of a no-reading puzzle on a quiet site: a few
        # seconds of a visitor's browser, as many CPU-seconds of a bot's.
        return int(self._typed("NO_READING_MIN_TRIES"))

    @property
    def NO_READING_MAX_TRIES(self) -> int:
        # Expected tries at GANCAPTCHA_NO_READING_ATTACK_RATE puzzles a minute.
        return max(self.NO_READING_MIN_TRIES, int(self._typed("NO_READING_MAX_TRIES")))

    @property
    def NO_READING_ATTACK_RATE(self) -> float:
        # Site-wide no-reading puzzles per minute taken as an attack.
        return float(self._typed("NO_READING_ATTACK_RATE"))

    @property
    def INLINE_IMAGE(self) -> bool:
        # The page carries the PNGs as data: URIs (CSP: img-src data:).
        return bool(self._typed("INLINE_IMAGE"))

    @property
    def HARDEN(self) -> bool:
        # Opt-in: draw the crossing layout (harden.LAYOUT) instead of equal cells.
        return bool(self._typed("HARDEN"))

    @property
    def TRAP(self) -> bool:
        # Opt-in: keep what a stock solver reads in each challenge (trap.py);
        # an answer that repeats its mistakes is a bot signal.
        return bool(self._typed("TRAP"))

    @property
    def TRAP_PENALTY(self) -> int:
        # Failures counted against the client on top of the one every wrong
        # answer costs, when the answer sprang the trap.
        return int(self._typed("TRAP_PENALTY"))

    @property
    def LATENT_BANK(self) -> bool:
        # Draw near the model set's latents.npz when it has one (False: plain
        # N(0, I) noise, the way sets without a bank are always served).
        return bool(self._typed("LATENT_BANK"))

    @property
    def MARGIN(self) -> float:
        # ln(top1 / top2) both classifiers must reach; 0 turns the margin off.
        return float(self._typed("MARGIN"))


conf = Settings()
