"""Internal. Issuing a challenge: the one path for the widget and the JSON API (api.py).

issue_for() applies every rule of issuing: a HEAD request gets nothing (its
body is never shown), the client's ``create`` rate limit, the old key given
back, then a new challenge from the source. A refusal says why, what to show
the visitor and when to come back; the caller only presents it (HTML or JSON).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from django.http import HttpRequest
from django.utils.functional import Promise

from gancaptcha_field import challenges, ratelimit
from gancaptcha_field import pow as proof_of_work
from gancaptcha_field.conf import conf
from gancaptcha_field.messages import RATE_LIMITED, TRY_AGAIN_SHORTLY, UNAVAILABLE
from gancaptcha_field.stores import Issued
from gancaptcha_field.supply import throttle

__all__ = [
    "UNAVAILABLE_RETRY_AFTER",
    "Issued",
    "Reason",
    "Refusal",
    "issue_for",
    "puzzle",
    "refusal_for",
]

logger = logging.getLogger(__name__)

# Retry-After of an "unavailable" refusal (models missing, store down): an
# operator has to act, so clients should not come back at once.
UNAVAILABLE_RETRY_AFTER = 60


class Reason(StrEnum):
    """Why no challenge was issued (the JSON API's ``error``)."""

    RATE_LIMITED = "rate_limited"  # the client's ``create`` rate
    BUSY = "busy"  # drawing for another visitor, or an empty pool
    UNAVAILABLE = "unavailable"  # models missing or the store failed
    HEAD = "head"  # a HEAD request: nobody will see a challenge


@dataclass(frozen=True)
class Refusal:
    """No challenge: why, the text to show, and seconds to wait (if any)."""

    reason: Reason
    message: str | Promise
    retry_after: int | None = None


def issue_for(request: HttpRequest | None, old_key: str = "") -> Issued | Refusal:
    """A new challenge for ``request``'s client, or why there is none.

    ``request`` defaults to the one RateLimitMiddleware is handling (without
    the middleware a widget cannot see the method, so HEAD issues then).
    ``old_key`` (a refresh) is discarded once the rate limit lets the client
    through; a limited client keeps the image it has.
    """
    request = request if request is not None else ratelimit.current_request()
    if request is not None and request.method == "HEAD":
        return Refusal(Reason.HEAD, UNAVAILABLE)
    verdict = ratelimit.hit(ratelimit.CREATE, request)
    if verdict.limited:
        return Refusal(Reason.RATE_LIMITED, RATE_LIMITED, verdict.retry_after)
    try:
        if old_key:
            challenges.discard(old_key)
        return challenges.create_challenge()
    except Exception as exc:  # a refusal to show, never a 500
        return refusal_for(exc)


def refusal_for(exc: Exception) -> Refusal:
    """What to tell a client when issuing (or showing what was issued) raised."""
    if isinstance(exc, (throttle.DrawingBusy, challenges.PoolEmpty)):
        return Refusal(Reason.BUSY, TRY_AGAIN_SHORTLY, throttle.RETRY_AFTER)
    if not isinstance(exc, challenges.CaptchaUnavailable):  # logged where raised
        logger.error("GanCaptcha: could not issue a challenge", exc_info=exc)
    return Refusal(Reason.UNAVAILABLE, UNAVAILABLE, UNAVAILABLE_RETRY_AFTER)


def puzzle(key: str) -> dict[str, Any] | None:
    """With GANCAPTCHA_POW["answers"], the proof-of-work puzzle for ``key``
    (its JSON form)."""
    if not conf.POW["answers"]:
        return None
    return proof_of_work.puzzle_for(key).as_dict()
