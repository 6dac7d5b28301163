"""Opt-in proof-of-work (GANCAPTCHA_POW): every attempt pays for itself first.

The puzzle is bound to one challenge key. The client looks for a nonce ``n``
such that the first four bytes of ``PBKDF2-HMAC-SHA256(f"{key}:{n}", salt,
iterations)``, read as a big-endian integer, fall below ``2**32 // tries``: it
needs ``tries`` PBKDF2 calls on average, and the server checks an answer with
one. PBKDF2 is what browsers compute natively (Web Crypto's ``deriveBits``), so
a bot's native solver has little head start on a visitor's browser, unlike
SHA-256 hashcash, where native code is tens of times faster than JavaScript.

The salt is an HMAC of the key and the difficulty under a key derived from
SECRET_KEY: a client cannot lower the difficulty it was given, nor reuse a
solution on another key. Single use is the challenge's own.

Difficulty rises by itself with the site-wide rate of failed attempts (counted
in GANCAPTCHA_RATELIMIT_CACHE): from GANCAPTCHA_POW_MIN_TRIES when the site is
quiet to GANCAPTCHA_POW_MAX_TRIES at GANCAPTCHA_POW_ATTACK_RATE failures per
minute, geometrically in between. Visitors without JavaScript send no solution;
they are served under the stricter ``nojs`` rate limit instead (ratelimit.py).
"""

from __future__ import annotations

import hashlib
import logging
import math
from dataclasses import dataclass
from typing import Any

from django.core.cache import caches
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from gancaptcha_field import ratelimit
from gancaptcha_field.conf import conf

logger = logging.getLogger(__name__)

ALGORITHM = "PBKDF2-SHA256"
_SALT_NAMESPACE = "gancaptcha_field.pow"
_WINDOW = 60  # seconds over which failures are counted
_FAIL_KEY = "gancaptcha:pow:fails:{window}"
_MAX_NONCE = 2**53 - 1  # what a JavaScript number holds exactly
_MAX_SOLUTION_LENGTH = 96


@dataclass(frozen=True)
class Puzzle:
    """What the client needs to solve: bound to one key and one difficulty."""

    key: str
    tries: int  # expected PBKDF2 calls
    iterations: int  # PBKDF2 iterations per call
    salt: str  # hex, signs key and difficulty

    @property
    def threshold(self) -> int:
        """A try wins when its first 32 bits are below this."""
        return max(1, 2**32 // self.tries)

    def as_dict(self) -> dict[str, Any]:
        """The JSON form (API, widget data attributes)."""
        return {
            "algorithm": ALGORITHM,
            "tries": self.tries,
            "iterations": self.iterations,
            "salt": self.salt,
            "threshold": self.threshold,
        }


def _salt(key: str, tries: int, iterations: int) -> str:
    return salted_hmac(
        _SALT_NAMESPACE, f"{key}|{tries}|{iterations}", algorithm="sha256"
    ).hexdigest()[:32]


def puzzle_for(key: str, tries: int | None = None) -> Puzzle:
    """The puzzle for a new challenge key, at the current difficulty."""
    tries = current_tries() if tries is None else tries
    iterations = conf.POW_ITERATIONS
    return Puzzle(key, tries, iterations, _salt(key, tries, iterations))


def digest(key: str, nonce: int, salt: str, iterations: int) -> bytes:
    """One try: PBKDF2-HMAC-SHA256 of ``key:nonce``, 32 bytes."""
    return hashlib.pbkdf2_hmac(
        "sha256", f"{key}:{nonce}".encode(), salt.encode(), iterations, 32
    )


def wins(puzzle: Puzzle, nonce: int) -> bool:
    """True when ``nonce`` solves ``puzzle``."""
    head = digest(puzzle.key, nonce, puzzle.salt, puzzle.iterations)[:4]
    return int.from_bytes(head, "big") < puzzle.threshold


def solve(puzzle: Puzzle, start: int = 0, step: int = 1) -> int:
    """The first winning nonce from ``start`` (native solver; tests, the lab)."""
    nonce = start
    while not wins(puzzle, nonce):
        nonce += step
    return nonce


def format_solution(puzzle: Puzzle, nonce: int) -> str:
    """What the client sends back: ``tries.iterations.salt.nonce``."""
    return f"{puzzle.tries}.{puzzle.iterations}.{puzzle.salt}.{nonce}"


def check(key: str, solution: object) -> bool:
    """True when ``solution`` solves a puzzle this site issued for ``key``.

    The solution carries its difficulty and salt back; the salt signs key and
    difficulty, so a client cannot claim an easier puzzle than it was given
    (without the signature, a random nonce would win one claimed try in N).
    """
    if not isinstance(solution, str) or len(solution) > _MAX_SOLUTION_LENGTH:
        return False
    parts = solution.split(".")
    if len(parts) != 4:
        return False
    tries_s, iterations_s, salt, nonce_s = parts
    if not all(p.isascii() and p.isdigit() for p in (tries_s, iterations_s, nonce_s)):
        return False
    tries, iterations, nonce = int(tries_s), int(iterations_s), int(nonce_s)
    if not (
        conf.POW_MIN_TRIES <= tries <= conf.POW_MAX_TRIES
        and iterations == conf.POW_ITERATIONS
        and 0 <= nonce <= _MAX_NONCE
    ):
        return False
    expected = _salt(key, tries, iterations)
    if not constant_time_compare(salt, expected):
        return False
    return wins(Puzzle(key, tries, iterations, expected), nonce)


def _fail_key(now: float) -> str:
    return _FAIL_KEY.format(window=math.floor(now / _WINDOW))


def record_failure() -> None:
    """Count one failed attempt site-wide (raises the difficulty for everyone)."""
    if not conf.POW:
        return
    key = _fail_key(timezone.now().timestamp())
    try:
        ratelimit.increment(caches[conf.RATELIMIT_CACHE], key, 2 * _WINDOW + 1)
    except Exception:  # an outage leaves the difficulty where it was
        logger.warning("GanCaptcha: could not count a failure for the proof-of-work")


def failure_rate() -> float:
    """Failures per minute, site-wide: the last full window or the current one."""
    # timezone.now(), as the rate limits: one clock for every window.
    now = timezone.now().timestamp()
    try:
        cache = caches[conf.RATELIMIT_CACHE]
        current = int(cache.get(_fail_key(now), 0))
        previous = int(cache.get(_fail_key(now - _WINDOW), 0))
    except Exception:
        logger.warning("GanCaptcha: could not read the failure rate; assuming attack")
        return float(conf.POW_ATTACK_RATE)
    return float(max(current, previous)) * 60.0 / _WINDOW


def tries_for(rate: float) -> int:
    """Difficulty for a failure rate: geometric from the minimum to the maximum."""
    low, high = conf.POW_MIN_TRIES, conf.POW_MAX_TRIES
    share = min(1.0, max(0.0, rate / max(conf.POW_ATTACK_RATE, 1e-9)))
    return round(float(low * (high / low) ** share))


def current_tries() -> int:
    """The difficulty to issue now."""
    return tries_for(failure_rate())
