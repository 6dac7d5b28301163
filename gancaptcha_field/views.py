"""Internal. HTTP endpoints: a challenge's image (1x, 2x) and audio. JSON lives in
api.py."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_safe

from gancaptcha_field import audio as spoken
from gancaptcha_field import challenges, ratelimit

# Each image answers one challenge only: nothing may keep or share it.
_NO_STORE = {"Cache-Control": "no-store"}

logger = logging.getLogger(__name__)

T = TypeVar("T")


def _live(
    request: HttpRequest,
    what: str,
    lookup: Callable[[], T | None],
    respond: Callable[[T], HttpResponse],
    action: str = ratelimit.IMAGE,
) -> HttpResponse:
    """Rate-limit, look the live challenge up, respond; 410 if not live, 503 on
    a store failure (never a 500)."""
    verdict = ratelimit.hit(action, request)
    if verdict.limited:
        return ratelimit.too_many_requests(verdict)
    try:
        found = lookup()
    except DatabaseError:
        logger.exception("GanCaptcha: the challenge store failed serving %s", what)
        return HttpResponse(status=503, headers=_NO_STORE)
    if found is None:
        return HttpResponse(status=410, headers=_NO_STORE)
    return respond(found)


def _png(png: bytes) -> HttpResponse:
    return HttpResponse(png, content_type="image/png", headers=_NO_STORE)


@require_safe
def image(request: HttpRequest, key: str) -> HttpResponse:
    """The PNG of a live challenge; 410 Gone for unknown, expired or used keys."""
    return _live(request, "an image", lambda: challenges.get_png(key), _png)


@require_safe
def image_2x(request: HttpRequest, key: str) -> HttpResponse:
    """The same challenge at twice the pixels, for HiDPI screens (srcset)."""
    # A row stored without a 2x image serves the 1x one (the store's rule).
    return _live(request, "an image", lambda: challenges.get_png(key, hidpi=True), _png)


@require_safe
def audio(request: HttpRequest, key: str) -> HttpResponse:
    """The live challenge's digits spoken (WAV), new noise every time; else 410."""

    def speak(answer: str) -> HttpResponse:
        language = spoken.language_for(request.GET.get("lang"))
        wav = spoken.render_wav(answer, language)
        return HttpResponse(wav, content_type=spoken.CONTENT_TYPE, headers=_NO_STORE)

    # Its own rate (``audio``): a recogniser should get no more through the
    # audio than a stock solver through the image.
    return _live(
        request,
        "audio",
        lambda: challenges.get_answer_for_audio(key),
        speak,
        ratelimit.AUDIO,
    )
