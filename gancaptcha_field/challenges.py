"""Internal. Create, fetch, check and expire challenges, in the store GANCAPTCHA_STORE
names.

attempt() is the one answer check: every rule (normalisation, test mode, the
failure rate limit, single use, expiry) lives there, and the form field and
the DRF field only turn its result code into a message. Every submission
consumes its challenge, right or wrong, and the store decides atomically who
consumed it (stores.py), so two concurrent submissions of a solved challenge
cannot both pass; the use is committed at once, even inside a transaction that
later rolls back. Checking needs the store only, never the models. Where a new
challenge comes from (the pool, the pool then a draw, or a draw) is the
source's to say (supply/source.py); a pooled one is a pre-rendered row handed
out once (pool.py), and no model runs.
"""

from __future__ import annotations

import base64
import hmac
import logging
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from django.db import DatabaseError
from django.http import HttpRequest
from django.utils import timezone

from gancaptcha_field import pow as proof_of_work
from gancaptcha_field import ratelimit, signals
from gancaptcha_field.conf import conf
from gancaptcha_field.models import KEY_MAX_LENGTH
from gancaptcha_field.stores import Consumed, Issued, UseNotCommitted, get_store
from gancaptcha_field.supply import source
from gancaptcha_field.supply.errors import CaptchaUnavailable, PoolEmpty

logger = logging.getLogger(__name__)
# Bot signals (GANCAPTCHA_TRAP) on a logger of their own, to route or mute.
trap_logger = logging.getLogger("gancaptcha_field.trap")

# What secrets.token_urlsafe() emits; anything else is never looked up.
_KEY_RE = re.compile(rf"[A-Za-z0-9_-]{{1,{KEY_MAX_LENGTH}}}")

__all__ = [
    "CaptchaUnavailable",
    "Code",
    "Issued",
    "PoolEmpty",
    "Result",
    "attempt",
    "create_challenge",
    "discard",
    "get_answer_for_audio",
    "get_png",
    "is_live",
    "is_valid_key",
    "normalise_answer",
    "purge_expired",
]


# Longer input is not an answer, whatever it normalises to; don't process it.
MAX_RAW_ANSWER = 64


class Code(StrEnum):
    """Why an attempt passed or failed."""

    OK = "ok"
    INVALID = "invalid"  # the key was live; the answer was wrong
    EXPIRED = "expired"
    UNKNOWN = "unknown"  # never issued, already used, or not a key at all
    REQUIRED = "required"  # no answer typed
    MALFORMED = "malformed"  # not a plausible answer: too long, not text, ...
    RATE_LIMITED = "rate_limited"  # too many failures from this client
    UNAVAILABLE = "unavailable"  # the store failed: refused, never passed
    POW_FAILED = "pow_failed"  # GANCAPTCHA_POW["answers"]: the proof-of-work was wrong


@dataclass(frozen=True)
class Result:
    """The outcome of attempt()."""

    code: Code
    # INVALID only: the answer repeated a stock solver's misreading (trap.py).
    trapped: bool = False

    @property
    def ok(self) -> bool:
        """True when the answer was accepted."""
        return self.code is Code.OK


def is_valid_key(key: object) -> bool:
    """True if key has the shape of an issued key (says nothing about the store)."""
    return isinstance(key, str) and _KEY_RE.fullmatch(key) is not None


def create_challenge() -> Issued:
    """A fresh challenge for one visitor; raises CaptchaUnavailable.

    The source (supply/source.py) says where it comes from: the pool, the
    pool and then a draw on the spot (logged), or a draw; a pool-only process
    with an empty pool raises PoolEmpty.
    """
    return source.current_source().issue(get_store())


def _create_with_answer(answer: str) -> Issued:
    # A challenge with a known answer, drawn now (the tests issue these).
    return source.draw(get_store(), answer)


def get_png(key: str, hidpi: bool = False) -> bytes | None:
    """The PNG (1x, or 2x for HiDPI) of a live challenge; None if not live."""
    if not is_valid_key(key):
        return None
    return get_store().get_png(key, hidpi, timezone.now())


def data_uris(key: str) -> tuple[str, str] | None:
    """The live challenge's 1x and 2x PNGs as data: URIs (GANCAPTCHA_INLINE_IMAGE)."""
    if not is_valid_key(key):
        return None
    pngs = get_store().get_pngs(key, timezone.now())  # one read of both
    if pngs is None:
        return None
    png, png_2x = pngs
    return _data_uri(png), _data_uri(png_2x)


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def get_answer_for_audio(key: str) -> str | None:
    """The answer of a live challenge, not consumed (for the audio view); else None."""
    if not is_valid_key(key):
        return None
    return get_store().get_answer(key, timezone.now())


def normalise_answer(raw: str) -> str:
    """Drop all whitespace and fold Unicode decimal digits (e.g. ١٢٣٤) to ASCII."""
    return "".join(
        str(unicodedata.decimal(c)) if c.isdecimal() else c
        for c in raw
        if not c.isspace()
    )


def attempt(
    key: object,
    raw_answer: object,
    request: HttpRequest | None = None,
    proof: object = None,
    *,
    no_reading: object = None,
    allow_no_reading: bool = False,
) -> Result:
    """Check raw_answer against the challenge key; every rule is here.

    In order: the client's failure is counted first (the ``fail`` rate of
    GANCAPTCHA_RATELIMIT_RATES) and refunded after a pass, so a rolled-back
    or concurrent request cannot slip past the limit; a limited client is
    refused unread. The challenge is used up whatever the outcome, and the use
    is committed before this returns. A store failure is UNAVAILABLE: refused,
    never passed. request defaults to the one RateLimitMiddleware is handling.
    With GANCAPTCHA_POW["answers"], ``proof`` (the solved puzzle) is checked before the
    answer; an attempt without one counts against the ``nojs`` rate instead.

    ``no_reading``, a solved no-reading puzzle (no_reading.py), passes in
    place of an answer when the caller offers that way (``allow_no_reading``);
    it was rate-limited when its puzzle was handed out. Offered or not, it is
    checked before any typed answer and uses the challenge up.
    """
    request = request if request is not None else ratelimit.current_request()
    key_text = key if isinstance(key, str) else ""
    by_puzzle = no_reading is not None and no_reading != ""
    answer: str | None = None  # None on the no-reading way: nothing to compare
    try:
        unread: Result | None
        if ratelimit.hit(ratelimit.FAIL, request).limited:
            unread = Result(Code.RATE_LIMITED)  # no guessing past the limit
        elif by_puzzle:
            unread = _check_no_reading(key_text, no_reading, allow_no_reading)
        else:
            unread = (
                _check_proof(key_text, proof, request) if conf.POW["answers"] else None
            )
            if unread is None:
                answer = _parse_answer(raw_answer)
                unread = _check_unread(answer)
        # The one use of the challenge, whatever the outcome: read only when
        # nothing above decided, committed before this returns.
        consumed = _use(key_text, read=unread is None)
        result = unread if unread is not None else _judge(consumed, answer)
    except UseNotCommitted:  # logged by the store, with what to do about it
        return Result(Code.UNAVAILABLE)
    except Exception:  # fail closed: a refusal, never a pass or a 500
        logger.exception("GanCaptcha: could not verify a challenge")
        return Result(Code.UNAVAILABLE)
    try:
        if result.ok:
            ratelimit.refund(ratelimit.FAIL, request)
        else:
            proof_of_work.record_failure()  # raises the site's difficulty
        if result.trapped:
            _sprung(key_text, request)
    except Exception:  # bookkeeping only: the verdict stands, never a 500
        logger.warning("GanCaptcha: could not update the counters", exc_info=True)
    return result


def _sprung(key: str, request: HttpRequest | None) -> None:
    """A bot signal: log it, count it against the client, tell the site."""
    address = ratelimit.client_address(request) if request is not None else None
    trap_logger.warning(
        "GanCaptcha: bot signal: an answer repeated a stock solver's misreading "
        "(client %s)",
        address or "unknown",
    )
    # The signal first: a counter that fails (the cache, a lock) must not
    # cost the site its bot signal.
    for receiver, error in signals.trap_sprung.send_robust(
        sender=attempt, request=request, key=key
    ):
        if isinstance(error, Exception):
            logger.error(
                "GanCaptcha: trap_sprung receiver %r failed: %s", receiver, error
            )
    penalty = conf.TRAP_PENALTY
    if penalty:
        ratelimit.hit(ratelimit.FAIL, request, penalty)


def _check_proof(key: str, proof: object, request: HttpRequest | None) -> Result | None:
    """A refusal when the proof-of-work does not hold; None to go on."""
    if proof is None or proof == "":
        # No JavaScript: still served, under the stricter ``nojs`` rate.
        if ratelimit.hit(ratelimit.NOJS, request).limited:
            return Result(Code.RATE_LIMITED)
        return None
    if not proof_of_work.check(key, proof):
        return Result(Code.POW_FAILED)  # still uses the challenge up
    return None


def _check_no_reading(key: str, solution: object, allowed: bool) -> Result | None:
    """A refusal unless the solved no-reading puzzle holds; None to go on."""
    if not allowed:
        return Result(Code.MALFORMED)  # this form does not offer the way
    if not proof_of_work.check(key, solution, proof_of_work.NO_READING):
        return Result(Code.POW_FAILED)
    return None


def is_live(key: object) -> bool:
    """True when ``key`` names a challenge that can still be answered."""
    return isinstance(key, str) and get_answer_for_audio(key) is not None


def _parse_answer(raw: object) -> str | None:
    """The normalised answer; "" when none was typed, None when implausible."""
    if raw is None:
        return ""
    if not isinstance(raw, str) or len(raw) > MAX_RAW_ANSWER:
        return None
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates (JSON "\ud800"): not text
        return None
    return normalise_answer(raw)


def _check_unread(answer: str | None) -> Result | None:
    """The verdict on a typed answer when the challenge need not be read;
    None to read it."""
    if not answer:
        # Any submission uses the challenge up, even an empty or a bad one.
        return Result(Code.MALFORMED if answer is None else Code.REQUIRED)
    if _is_test_answer(answer):
        if conf.test_mode_active():
            logger.warning(
                "GanCaptcha: TEST MODE passed an answer without checking it "
                "(GANCAPTCHA_TEST_MODE); never use it in production"
            )
            return Result(Code.OK)
        if conf.TEST_MODE:
            logger.warning(
                "GanCaptcha: GANCAPTCHA_TEST_MODE is set but DEBUG is off and "
                "GANCAPTCHA_TEST_MODE_ALLOW_WITHOUT_DEBUG is not: checked normally"
            )
    return None


def _use(key: str, read: bool) -> Consumed | None:
    """Use the challenge up: consumed and read (``read``), else discarded
    unread; committed now, even inside the caller's transaction (the store).
    None when there was nothing to read."""
    if not is_valid_key(key):
        return None  # never looked up
    store = get_store()
    if not read:
        store.discard(key)
        return None
    now = timezone.now()
    consumed = store.consume(key, now)
    try:
        store.purge_expired(now)
    except DatabaseError:  # housekeeping: the answer's check stands without it
        logger.warning("GanCaptcha: could not purge expired challenges", exc_info=True)
    return consumed


def _judge(consumed: Consumed | None, answer: str | None) -> Result:
    """The verdict on a challenge read by _use(); ``answer`` None: the
    no-reading puzzle held, so a live challenge passes."""
    if consumed is None:
        return Result(Code.UNKNOWN)
    if consumed.expired or consumed.answer is None:
        return Result(Code.EXPIRED)
    if answer is None:
        return Result(Code.OK)
    # Bytes: compare_digest() refuses non-ASCII str.
    if hmac.compare_digest(answer.encode(), consumed.answer.encode()):
        return Result(Code.OK)
    # Off means off at once: baits sealed in live or pooled rows are ignored.
    trapped = conf.TRAP and springs(answer, consumed.answer, consumed.baits)
    return Result(Code.INVALID, trapped=trapped)


# Digits of one bait a wrong answer must repeat, each in its place, to spring
# the trap. Readers of the panel's first pilots stumbled on single digits as
# the classifiers did: one repeated digit sprang on 8.5% of their 200
# attempts, two on 0.5% (docs/panel.md).
SPRING_DIGITS = 2


def springs(
    answer: str, truth: str, baits: tuple[str, ...], digits: int = SPRING_DIGITS
) -> bool:
    """True when a wrong answer repeats a stock solver's misreading of two digits.

    Two digits of the answer are wrong in the very way one bait (a stock
    reading kept at render time) got them wrong, each in its place. A person
    who misreads one ambiguous digit as the classifiers did, or slips once,
    never springs it. ``digits`` other than SPRING_DIGITS is for measuring
    other rules (the reading panel reports the first rule, one digit).
    """
    if answer == truth or len(answer) != len(truth):
        return False
    return any(
        len(bait) == len(truth)
        and sum(a == b != t for a, b, t in zip(answer, bait, truth, strict=True))
        >= digits
        for bait in baits
    )


def discard(key: str) -> None:
    """Delete a challenge, if it exists (e.g. when the user asks for a new one)."""
    if is_valid_key(key):
        get_store().discard(key)


def purge_expired(now: datetime | None = None) -> int:
    """Delete expired challenges; return how many (0 for a cache store)."""
    return get_store().purge_expired(now or timezone.now())


def _is_test_answer(answer: str) -> bool:
    return answer.casefold() == conf.TEST_ANSWER.casefold()
