"""Per-client rate limits on issuing challenges, fetching images and failing.

Fixed-window counters in Django's cache (``cache.add`` then ``cache.incr``), one
per action, client address and window. On unless GANCAPTCHA_RATELIMIT_ENABLED is
False. The form field and the widget have no request of their own, so
``RateLimitMiddleware`` hands them the current one through a context variable.

Failures are counted before the answer is read (``hit(FAIL)``: one atomic
increment decides) and given back after a pass (``refund(FAIL)``), so N
concurrent wrong posts never get more than the limit through. Counts and
refunds commit at once, even inside the request's transaction when the cache is
a database cache (``_durably``): a rolled-back request keeps its count.

A request whose client address cannot be read (gunicorn on a Unix socket, an
empty REMOTE_ADDR) is not limited at all, and a warning is logged once per
process: one shared bucket for all such clients would let one of them lock
out the others.

A cache that fails open: when the cache itself errors, the event is logged and
allowed, because the CAPTCHA (single use, expiry) still stands behind it.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import re
import threading
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar

from asgiref.sync import iscoroutinefunction, markcoroutinefunction

from django.core.cache import caches
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from gancaptcha_field.conf import conf
from gancaptcha_field.messages import RATE_LIMITED

logger = logging.getLogger(__name__)

T = TypeVar("T")

CREATE = "create"  # a challenge issued: widget render or refresh
IMAGE = "image"  # a challenge image fetched
FAIL = "fail"  # a wrong, empty, expired or unknown answer posted
# An answer without a proof-of-work while GANCAPTCHA_POW["answers"] is on (no
# JavaScript).
NOJS = "nojs"
AUDIO = "audio"  # a challenge's audio fetched
NO_READING = "no_reading"  # a puzzle of the way through without reading
ACTIONS = (CREATE, IMAGE, FAIL, NOJS, AUDIO, NO_READING)

__all__ = [
    "ACTIONS",
    "ALLOWED",
    "AUDIO",
    "CREATE",
    "FAIL",
    "IMAGE",
    "NO_READING",
    "Rate",
    "RateLimitMiddleware",
    "Verdict",
    "client_address",
    "current_request",
    "hit",
    "parse_rate",
    "rate_for",
    "refund",
    "too_many_requests",
]

_RATE_RE = re.compile(r"\s*(\d+)\s*/\s*(\d*)\s*([smhd])\s*")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# Where hit() notes the counters it raised on a request, for refund().
_COUNTED_ATTR = "_gancaptcha_counted"

# Warnings said once per process (the keys of _WARNINGS).
_warned: set[str] = set()
_warned_lock = threading.Lock()
_WARNINGS = {
    "unknown_address": (
        "GanCaptcha: a request came with no readable client address "
        "(REMOTE_ADDR %r: gunicorn on a Unix socket?). Rate limits are skipped "
        "for such requests. Behind a reverse proxy, set GANCAPTCHA_CLIENT_IP "
        "(the number of trusted proxies, or the header your proxy sets). "
        "Said once per process."
    ),
    "forwarded_for": (
        "GanCaptcha: requests carry X-Forwarded-For, but GANCAPTCHA_CLIENT_IP "
        "is 'REMOTE_ADDR' (REMOTE_ADDR %r), so every client behind a proxy "
        "shares one rate-limit bucket. Behind N reverse proxies that append to "
        "X-Forwarded-For, set GANCAPTCHA_CLIENT_IP = N; if your proxy sets its "
        "own header, name it (e.g. 'HTTP_X_REAL_IP'). If clients reach Django "
        "directly, leave it: the header is theirs to forge. Said once per process."
    ),
}

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


def client_address(request: HttpRequest) -> str | None:
    """The client's address as GANCAPTCHA_CLIENT_IP says to find it.

    IPv6 clients are grouped by /64, the block one subscriber usually holds.
    An address that cannot be read falls back to REMOTE_ADDR (never to anything
    the client chose), and then to None: no client to count against.
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
    return _normalise(candidate) or _normalise(remote)


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


def hit(action: str, request: HttpRequest | None = None, count: int = 1) -> Verdict:
    """Count ``count`` of ``action`` by the client (one atomic increment);
    limited past the rate. For FAIL, call it before reading the answer, and
    refund() a pass."""
    return _consult(action, request, count)


def refund(action: str, request: HttpRequest | None = None) -> None:
    """Give back the last ``action`` hit() counted on this request (e.g. a
    failure counted before an answer that passed); never below zero."""
    request = request if request is not None else current_request()
    counted: list[str] = (
        getattr(request, _COUNTED_ATTR, {}).get(action, []) if request else []
    )
    if not counted:
        return  # nothing counted on this request: nothing to give back
    key = counted.pop()

    def give_back() -> None:
        cache = caches[conf.RATELIMIT_CACHE]
        try:
            if cache.decr(key) < 0:
                # The counter expired between the cache's existence check and
                # its decrement, which made a new one (with no expiry, on
                # Redis): its window is over, so drop it.
                cache.delete(key)
        except ValueError:
            pass  # the window has closed: the counter is gone already

    try:
        _durably(give_back)
    except Exception:  # a cache outage must not take the form down
        logger.warning("GanCaptcha: rate-limit cache failed on refund", exc_info=True)


def _warn_once(name: str, *args: object) -> None:
    with _warned_lock:
        if name in _warned:
            return
        _warned.add(name)
    logger.warning(_WARNINGS[name], *args)


def _address(request: HttpRequest) -> str | None:
    """client_address(), warning once about what makes it meaningless."""
    address = client_address(request)
    remote = request.META.get("REMOTE_ADDR", "")
    if address is None:
        _warn_once("unknown_address", remote)
    elif conf.CLIENT_IP == "REMOTE_ADDR" and request.META.get("HTTP_X_FORWARDED_FOR"):
        _warn_once("forwarded_for", remote)
    return address


def _consult(action: str, request: HttpRequest | None, count: int = 1) -> Verdict:
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
    address = _address(request)
    if address is None:
        # One bucket for every unreadable address would let one client lock
        # out all the others: such requests are not limited (warned above).
        return ALLOWED
    now = timezone.now().timestamp()
    window = math.floor(now / rate.period)
    retry_after = max(1, math.ceil((window + 1) * rate.period - now))
    key = f"gancaptcha:rl:{action}:{rate.period}:{window}:{address}"
    try:
        used = _durably(
            lambda: increment(caches[conf.RATELIMIT_CACHE], key, retry_after + 1, count)
        )
        _note_counted(request, action, key, count)
        limited = used > rate.count
    except Exception:  # a cache outage must not take the form down
        logger.warning("GanCaptcha: rate-limit cache failed; allowing", exc_info=True)
        return ALLOWED
    return Verdict(True, retry_after) if limited else ALLOWED


def _durably(work: Callable[[], T]) -> T:
    """work() on the rate-limit cache, committed now.

    A database cache writes in the request's transaction unless told not to:
    a count that a rollback took back would let a client guess past the limit
    (stores.durably: inside a caller's transaction, a connection of its own).
    The alias is looked up again inside ``work``, on the connection's thread.
    """
    from gancaptcha_field.stores import cache_database, durably

    db = cache_database(caches[conf.RATELIMIT_CACHE])
    return work() if db is None else durably(db, work)


def increment(cache: Any, key: str, timeout: float, by: int = 1) -> int:
    """One atomic increment by ``by`` of a fixed-window counter (created at 0
    for ``timeout`` seconds); the new count. Raises what the cache raises."""
    cache.add(key, 0, timeout=timeout)
    try:
        return int(cache.incr(key, by))
    except ValueError:  # evicted between add() and incr()
        cache.set(key, by, timeout=timeout)
        return by


def _note_counted(request: HttpRequest, action: str, key: str, count: int) -> None:
    counted: dict[str, list[str]] | None = getattr(request, _COUNTED_ATTR, None)
    if counted is None:
        counted = {}
        setattr(request, _COUNTED_ATTR, counted)
    # Once per unit: refund() gives back one at a time.
    counted.setdefault(action, []).extend([key] * count)


def too_many_requests(verdict: Verdict) -> HttpResponse:
    """A 429 with Retry-After, never cached."""
    return HttpResponse(
        str(RATE_LIMITED),
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
