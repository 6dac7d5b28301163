"""Per-client rate limits on issuing challenges, fetching images and failing.

Fixed-window counters in Django's cache (``cache.add`` then ``cache.incr``), one
per action, client address and window. Off unless GANCAPTCHA_RATELIMIT_ENABLED.
The form field and the widget have no request of their own, so
``RateLimitMiddleware`` hands them the current one through a context variable.

A cache that fails open: when the cache itself errors, the event is logged and
allowed, because the CAPTCHA (single use, expiry) still stands behind it.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import re
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction

from django.core.cache import caches
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from gancaptcha_field.conf import conf

logger = logging.getLogger(__name__)

CREATE = "create"  # a challenge issued: widget render or refresh
IMAGE = "image"  # a challenge image fetched
FAIL = "fail"  # a wrong, empty, expired or unknown answer posted
ACTIONS = (CREATE, IMAGE, FAIL)

RATE_LIMITED_MESSAGE = _("Too many attempts. Please wait a minute and try again.")

_RATE_RE = re.compile(r"\s*(\d+)\s*/\s*(\d*)\s*([smhd])\s*")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_UNKNOWN_CLIENT = "unknown"

_current_request: ContextVar[HttpRequest | None] = ContextVar(
    "gancaptcha_request", default=None
)


@dataclass(frozen=True)
class Rate:
    """At most ``count`` events per ``period`` seconds."""

    count: int
    period: int


@dataclass(frozen=True)
class Verdict:
    """Whether an event is over its limit, and when the window reopens."""

    limited: bool
    retry_after: int = 0  # whole seconds, at least 1 when limited


ALLOWED = Verdict(False)


def parse_rate(rate: str) -> Rate:
    """``"10/m"``, ``"100/h"``, ``"5/30s"`` to a Rate; raises ValueError."""
    match = _RATE_RE.fullmatch(rate) if isinstance(rate, str) else None
    if match is None:
        raise ValueError(f"not a rate: {rate!r} (use e.g. '10/m' or '5/30s')")
    count, multiple, unit = match.groups()
    period = int(multiple or 1) * _UNIT_SECONDS[unit]
    if period < 1:
        raise ValueError(f"not a rate: {rate!r} (the period must be positive)")
    return Rate(int(count), period)


def rate_for(action: str) -> Rate | None:
    """The configured rate of ``action``; None when that action is unlimited."""
    try:
        value = conf.RATELIMIT_RATES.get(action)
    except TypeError as exc:  # not a mapping
        raise ValueError("GANCAPTCHA_RATELIMIT_RATES must be a dict") from exc
    return None if value is None else parse_rate(value)


def client_address(request: HttpRequest) -> str:
    """The client's address as GANCAPTCHA_CLIENT_IP says to find it.

    IPv6 clients are grouped by /64, the block one subscriber usually holds.
    An address that cannot be read falls back to REMOTE_ADDR, and then to one
    shared bucket: never to anything the client chose.
    """
    setting = conf.CLIENT_IP
    remote = request.META.get("REMOTE_ADDR", "")
    candidate = remote
    if isinstance(setting, int) and not isinstance(setting, bool) and setting > 0:
        # Each trusted proxy appended the address it saw: the client is the
        # Nth from the right; anything further left is the client's own say.
        hops = [
            part.strip()
            for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
            if part.strip()
        ]
        if len(hops) >= setting:
            candidate = hops[-setting]
    elif isinstance(setting, str) and setting != "REMOTE_ADDR":
        candidate = request.META.get(setting, "").rsplit(",", 1)[-1].strip()
    return _normalise(candidate) or _normalise(remote) or _UNKNOWN_CLIENT


def _normalise(address: str) -> str | None:
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return None
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)


def current_request() -> HttpRequest | None:
    """The request RateLimitMiddleware is handling in this context, if any."""
    return _current_request.get()


def hit(action: str, request: HttpRequest | None = None) -> Verdict:
    """Count one ``action`` by the client; limited once past the rate."""
    return _consult(action, request, count=True)


def peek(action: str, request: HttpRequest | None = None) -> Verdict:
    """Limited if the client has already used up ``action``; counts nothing."""
    return _consult(action, request, count=False)


def refund(action: str, request: HttpRequest | None = None) -> None:
    """Take back one counted ``action`` (e.g. a FAIL counted before a pass).

    Minimal: one decrement of the current window, never below zero. (Branch
    ``ratelimit`` replaces this module's counting; keep this signature.)
    """
    if not conf.RATELIMIT_ENABLED:
        return
    request = request if request is not None else current_request()
    if request is None:
        return
    try:
        rate = rate_for(action)
    except ValueError:
        return
    if rate is None:
        return
    window = math.floor(timezone.now().timestamp() / rate.period)
    key = f"gancaptcha:rl:{action}:{rate.period}:{window}:{client_address(request)}"
    try:
        cache = caches[conf.RATELIMIT_CACHE]
        if int(cache.get(key, 0)) > 0 and cache.decr(key) < 0:
            cache.set(key, 0, timeout=rate.period + 1)
    except ValueError:  # the key expired meanwhile: nothing to refund
        pass
    except Exception:  # a vanished key or a cache outage: nothing to refund
        logger.warning("GanCaptcha: rate-limit refund failed", exc_info=True)


def _consult(action: str, request: HttpRequest | None, count: bool) -> Verdict:
    if not conf.RATELIMIT_ENABLED:
        return ALLOWED
    request = request if request is not None else current_request()
    if request is None:
        # The field or widget used outside a request (or without the
        # middleware): there is no client to count against.
        return ALLOWED
    try:
        rate = rate_for(action)
    except ValueError:
        # The system check reports this; serving must not fall over on it.
        logger.error("GanCaptcha: bad rate for %r; not limiting it", action)
        return ALLOWED
    if rate is None:
        return ALLOWED
    now = timezone.now().timestamp()
    window = math.floor(now / rate.period)
    retry_after = max(1, math.ceil((window + 1) * rate.period - now))
    key = f"gancaptcha:rl:{action}:{rate.period}:{window}:{client_address(request)}"
    try:
        cache = caches[conf.RATELIMIT_CACHE]
        if count:
            cache.add(key, 0, timeout=retry_after + 1)
            try:
                used = cache.incr(key)
            except ValueError:  # evicted between add() and incr()
                cache.set(key, 1, timeout=retry_after + 1)
                used = 1
            limited = used > rate.count
        else:
            limited = int(cache.get(key, 0)) >= rate.count
    except Exception:  # a cache outage must not take the form down
        logger.warning("GanCaptcha: rate-limit cache failed; allowing", exc_info=True)
        return ALLOWED
    return Verdict(True, retry_after) if limited else ALLOWED


def too_many_requests(verdict: Verdict) -> HttpResponse:
    """A 429 with Retry-After, never cached."""
    return HttpResponse(
        str(RATE_LIMITED_MESSAGE),
        status=429,
        content_type="text/plain; charset=utf-8",
        headers={"Retry-After": str(verdict.retry_after), "Cache-Control": "no-store"},
    )


class RateLimitMiddleware:
    """Lets the field and widget see the request (and so the client) they serve."""

    sync_capable = True
    async_capable = True

    def __init__(
        self,
        get_response: Callable[[HttpRequest], Any],
    ) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.is_async:
            return self._acall(request)
        token = _current_request.set(request)
        try:
            return self.get_response(request)
        finally:
            _current_request.reset(token)

    async def _acall(self, request: HttpRequest) -> HttpResponse:
        token = _current_request.set(request)
        try:
            response: Awaitable[HttpResponse] = self.get_response(request)
            return await response
        finally:
            _current_request.reset(token)
