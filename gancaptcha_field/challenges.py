"""Create, fetch, verify and expire challenges, in the store GANCAPTCHA_STORE names.

Every submission consumes its challenge, right or wrong, and the store decides
atomically who consumed it (stores.py), so two concurrent submissions of a
solved challenge cannot both pass. With a pool (GANCAPTCHA_POOL_SIZE), a new
challenge is a pre-rendered row handed out once (pool.py) and no model runs.
"""

from __future__ import annotations

import hmac
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from django.utils import timezone

from gancaptcha_field.conf import conf
from gancaptcha_field.models import KEY_MAX_LENGTH
from gancaptcha_field.stores import Issued, get_store
from gancaptcha_field.supply import answers, pool, registry, render, throttle

logger = logging.getLogger(__name__)

# Callers catch this one name; it covers missing models and a failed draw.
CaptchaUnavailable = registry.CaptchaUnavailable

# What secrets.token_urlsafe() emits; anything else is never looked up.
_KEY_RE = re.compile(rf"[A-Za-z0-9_-]{{1,{KEY_MAX_LENGTH}}}")

__all__ = [
    "CaptchaUnavailable",
    "Code",
    "Issued",
    "PoolEmpty",
    "Result",
    "create_challenge",
    "discard",
    "get_answer_for_audio",
    "get_png",
    "is_available",
    "is_valid_key",
    "purge_expired",
    "verify",
]


class PoolEmpty(CaptchaUnavailable):
    """The pool is empty and this process may not draw (GANCAPTCHA_POOL_ONLY)."""


class Code(StrEnum):
    """Why a verification passed or failed."""

    OK = "ok"
    INVALID = "invalid"  # the key was live; the answer was wrong
    EXPIRED = "expired"
    UNKNOWN = "unknown"  # never issued, already used, or not a key at all


@dataclass(frozen=True)
class Result:
    """The outcome of verify()."""

    code: Code

    @property
    def ok(self) -> bool:
        """True when the answer was accepted."""
        return self.code is Code.OK


def is_valid_key(key: object) -> bool:
    """True if key has the shape of an issued key (says nothing about the store)."""
    return isinstance(key, str) and _KEY_RE.fullmatch(key) is not None


def is_available() -> bool:
    """True when challenges can be verified and made (or taken from the pool)."""
    if conf.POOL_ONLY:
        # Such a process never loads the models; an empty pool shows up when a
        # challenge is asked for, as PoolEmpty.
        return True
    return registry.get_registry().status().ok


def create_challenge() -> Issued:
    """A fresh challenge for one visitor; raises CaptchaUnavailable.

    Taken from the pool when there is one; an empty pool falls back to drawing
    on the spot (logged), except in pool-only processes, which raise PoolEmpty.
    """
    store = get_store()
    if conf.POOL_ONLY or conf.POOL_SIZE > 0:
        issued = pool.take(store)
        if issued is not None:
            pool.refill_if_low()
            return issued
        if conf.POOL_ONLY:
            logger.error("GanCaptcha pool is empty; pool-only process cannot draw")
            raise PoolEmpty("the challenge pool is empty")
        logger.warning("GanCaptcha pool is empty; drawing a challenge on the spot")
        pool.refill_if_low(force_check=True)
    with throttle.drawing_slot():  # one at a time per process; others: DrawingBusy
        return _create_with_answer(answers.new_answer())


def _create_with_answer(answer: str) -> Issued:
    (rendered,) = render.render_answers([answer])  # validates the answer first
    now = timezone.now()
    issued = Issued(
        key=answers.new_key(),
        answer=answer,
        created_at=now,
        expires_at=now + timedelta(seconds=conf.TIMEOUT),
    )
    get_store().save(issued, rendered)
    return issued


def get_png(key: str, hidpi: bool = False) -> bytes | None:
    """The PNG (1x, or 2x for HiDPI) of a live challenge; None if not live."""
    if not is_valid_key(key):
        return None
    return get_store().get_png(key, hidpi, timezone.now())


def get_answer_for_audio(key: str) -> str | None:
    """The answer of a live challenge, not consumed (for the audio view); else None."""
    if not is_valid_key(key):
        return None
    return get_store().get_answer(key, timezone.now())


def verify(key: str, answer: str) -> Result:
    """Check answer against key and consume the challenge, whatever the outcome."""
    if conf.TEST_MODE and _is_test_answer(answer):
        discard(key)
        return Result(Code.OK)
    if not is_valid_key(key):
        return Result(Code.UNKNOWN)
    store = get_store()
    now = timezone.now()
    consumed = store.consume(key, now)
    store.purge_expired(now)
    if consumed is None:
        return Result(Code.UNKNOWN)
    if consumed.expired or consumed.answer is None:
        return Result(Code.EXPIRED)
    # Bytes: compare_digest() refuses non-ASCII str.
    if hmac.compare_digest(answer.encode(), consumed.answer.encode()):
        return Result(Code.OK)
    return Result(Code.INVALID)


def discard(key: str) -> None:
    """Delete a challenge, if it exists (e.g. when the user asks for a new one)."""
    if is_valid_key(key):
        get_store().discard(key)


def purge_expired(now: datetime | None = None) -> int:
    """Delete expired challenges; return how many (0 for a cache store)."""
    return get_store().purge_expired(now or timezone.now())


def _is_test_answer(answer: str) -> bool:
    return answer.strip().casefold() == conf.TEST_ANSWER.casefold()
