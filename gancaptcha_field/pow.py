"""Internal. Opt-in proof-of-work (GANCAPTCHA_POW["answers"]): every attempt pays first.

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
in GANCAPTCHA_RATELIMIT_CACHE): from GANCAPTCHA_POW["min_tries"] when the site
is quiet to GANCAPTCHA_POW["max_tries"] at GANCAPTCHA_POW["attack_rate"]
failures per minute, geometrically in between. Visitors without JavaScript
send no solution; they are served under the stricter ``nojs`` rate limit
instead (ratelimit.py).

The same puzzle, much heavier, is the way through that needs no reading
(GANCAPTCHA_NO_READING, no_reading.py): a puzzle of purpose NO_READING is
salted apart, so neither kind of solution passes for the other, and its
difficulty rises with the site-wide rate of such puzzles handed out, from
GANCAPTCHA_POW["no_reading_min_tries"] to GANCAPTCHA_POW["no_reading_max_tries"]
at GANCAPTCHA_POW["no_reading_attack_rate"] per minute.
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
_WINDOW = 60  # seconds over which failures (or no-reading puzzles) are counted
_COUNT_KEY = "gancaptcha:pow:{purpose}:{window}"

# What a puzzle is for: the proof sent with a typed answer (GANCAPTCHA_POW["answers"]),
# or the way through without reading (GANCAPTCHA_NO_READING).
ANSWER = "fails"
NO_READING = "no-reading"
PURPOSES = (ANSWER, NO_READING)
_MAX_NONCE = 2**53 - 1  # what a JavaScript number holds exactly
_MAX_SOLUTION_LENGTH = 96


@dataclass(frozen=True)
class Puzzle:
    """What the client needs to solve: bound to one key and one difficulty."""

    key: str
    tries: int  # expected PBKDF2 calls
    iterations: int  # PBKDF2 iterations per call
    salt: str  # hex, signs key, difficulty and purpose
    purpose: str = ANSWER

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


def _salt(key: str, tries: int, iterations: int, purpose: str) -> str:
    # The answer's proof keeps its first namespace: puzzles issued before the
    # no-reading path existed still check.
    namespace = _SALT_NAMESPACE if purpose == ANSWER else f"{_SALT_NAMESPACE}.{purpose}"
    return salted_hmac(
        namespace, f"{key}|{tries}|{iterations}", algorithm="sha256"
    ).hexdigest()[:32]


def bounds(purpose: str = ANSWER) -> tuple[int, int, float]:
    """(fewest tries, most tries, site-wide count per minute that reaches the most)."""
    pow_ = conf.POW  # one read: each parses the whole dict
    if purpose == NO_READING:
        return (
            pow_["no_reading_min_tries"],
            pow_["no_reading_max_tries"],
            pow_["no_reading_attack_rate"],
        )
    return pow_["min_tries"], pow_["max_tries"], pow_["attack_rate"]


def puzzle_for(key: str, tries: int | None = None, purpose: str = ANSWER) -> Puzzle:
    """The puzzle for a new challenge key, at the current difficulty."""
    tries = current_tries(purpose) if tries is None else tries
    iterations = conf.POW["iterations"]
    return Puzzle(
        key, tries, iterations, _salt(key, tries, iterations, purpose), purpose
    )


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


def check(key: str, solution: object, purpose: str = ANSWER) -> bool:
    """True when ``solution`` solves a puzzle this site issued for ``key``.

    The solution carries its difficulty and salt back; the salt signs key,
    difficulty and purpose, so a client cannot claim an easier puzzle than it
    was given (without the signature, a random nonce would win one claimed try
    in N), nor pass an answer's proof off as a no-reading one.
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
    low, high, _ = bounds(purpose)
    if not (
        low <= tries <= high
        and iterations == conf.POW["iterations"]
        and 0 <= nonce <= _MAX_NONCE
    ):
        return False
    expected = _salt(key, tries, iterations, purpose)
    if not constant_time_compare(salt, expected):
        return False
    return wins(Puzzle(key, tries, iterations, expected, purpose), nonce)


def _count_key(purpose: str, now: float) -> str:
    return _COUNT_KEY.format(purpose=purpose, window=math.floor(now / _WINDOW))


def record(purpose: str) -> None:
    """Count one event site-wide (a failed answer, or a no-reading puzzle
    handed out): it raises that purpose's difficulty for everyone."""
    key = _count_key(purpose, timezone.now().timestamp())
    try:
        ratelimit.increment(caches[conf.RATELIMIT_CACHE], key, 2 * _WINDOW + 1)
    except Exception:  # an outage leaves the difficulty where it was
        logger.warning("GanCaptcha: could not count towards the %s difficulty", purpose)


def record_failure() -> None:
    """Count one failed attempt site-wide (raises the difficulty for everyone)."""
    if conf.POW["answers"]:
        record(ANSWER)


def rate(purpose: str = ANSWER) -> float:
    """Events per minute, site-wide: the last full window or the current one."""
    # timezone.now(), as the rate limits: one clock for every window.
    now = timezone.now().timestamp()
    try:
        cache = caches[conf.RATELIMIT_CACHE]
        current = int(cache.get(_count_key(purpose, now), 0))
        previous = int(cache.get(_count_key(purpose, now - _WINDOW), 0))
    except Exception:
        logger.warning(
            "GanCaptcha: could not read the %s rate; assuming attack", purpose
        )
        return float(bounds(purpose)[2])
    return float(max(current, previous)) * 60.0 / _WINDOW


def failure_rate() -> float:
    """Failed answers per minute, site-wide."""
    return rate(ANSWER)


def tries_for(per_minute: float, purpose: str = ANSWER) -> int:
    """Difficulty for a site-wide rate: geometric from the minimum to the maximum."""
    low, high, attack = bounds(purpose)
    high = max(low, high)
    share = min(1.0, max(0.0, per_minute / max(attack, 1e-9)))
    return round(float(low * (high / low) ** share))


def current_tries(purpose: str = ANSWER) -> int:
    """The difficulty to issue now."""
    return tries_for(rate(purpose), purpose)
