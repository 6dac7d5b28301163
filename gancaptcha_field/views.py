"""HTTP endpoints: a challenge's image (1x, 2x) and audio. JSON lives in api.py."""

from __future__ import annotations

import logging

from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_safe

from gancaptcha_field import audio as spoken
from gancaptcha_field import challenges, ratelimit

# Each image answers one challenge only: nothing may keep or share it.
_NO_STORE = {"Cache-Control": "no-store"}

logger = logging.getLogger(__name__)


def _png_response(request: HttpRequest, key: str, hidpi: bool) -> HttpResponse:
    verdict = ratelimit.hit(ratelimit.IMAGE, request)
    if verdict.limited:
        return ratelimit.too_many_requests(verdict)
    try:
        png = challenges.get_png(key, hidpi=hidpi)
        if hidpi and not png:
            # A row stored without a 2x image holds b"": serve the 1x one.
            png = challenges.get_png(key)
    except DatabaseError:
        logger.exception("GanCaptcha: the challenge store failed serving an image")
        return HttpResponse(status=503, headers=_NO_STORE)
    if png is None:
        return HttpResponse(status=410, headers=_NO_STORE)
    return HttpResponse(png, content_type="image/png", headers=_NO_STORE)


@require_safe
def image(request: HttpRequest, key: str) -> HttpResponse:
    """The PNG of a live challenge; 410 Gone for unknown, expired or used keys."""
    return _png_response(request, key, hidpi=False)


@require_safe
def image_2x(request: HttpRequest, key: str) -> HttpResponse:
    """The same challenge at twice the pixels, for HiDPI screens (srcset)."""
    return _png_response(request, key, hidpi=True)


@require_safe
def audio(request: HttpRequest, key: str) -> HttpResponse:
    """The live challenge's digits spoken (WAV), new noise every time; else 410."""
    verdict = ratelimit.hit(ratelimit.IMAGE, request)
    if verdict.limited:
        return ratelimit.too_many_requests(verdict)
    try:
        answer = spoken.get_answer(key)
    except DatabaseError:
        logger.exception("GanCaptcha: the challenge store failed serving audio")
        return HttpResponse(status=503, headers=_NO_STORE)
    if answer is None:
        return HttpResponse(status=410, headers=_NO_STORE)
    wav = spoken.render_wav(answer, spoken.language_for(request.GET.get("lang")))
    return HttpResponse(wav, content_type=spoken.CONTENT_TYPE, headers=_NO_STORE)
