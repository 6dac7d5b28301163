"""HTTP endpoints: the challenge image and a fresh challenge for the refresh button."""

from __future__ import annotations

import logging

from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_POST, require_safe

from gancaptcha_field import audio as spoken
from gancaptcha_field import challenges, links, ratelimit
from gancaptcha_field.widgets import UNAVAILABLE_MESSAGE

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


@require_POST
@csrf_protect
def refresh(request: HttpRequest) -> JsonResponse:
    """Discard the posted old key (if any) and issue a new challenge as JSON."""
    verdict = ratelimit.hit(ratelimit.CREATE, request)
    if verdict.limited:
        # The old key stays live: the user keeps the image they have.
        return JsonResponse(
            {
                "error": "rate_limited",
                "message": str(ratelimit.RATE_LIMITED_MESSAGE),
                "retry_after": verdict.retry_after,
            },
            status=429,
            headers={**_NO_STORE, "Retry-After": str(verdict.retry_after)},
        )
    old_key = request.POST.get("key", "")
    try:
        if old_key:
            challenges.discard(old_key)
        challenge = challenges.create_challenge()
    except Exception as exc:  # a JSON 503 for the script, never a 500 page
        if not isinstance(exc, challenges.CaptchaUnavailable):  # logged already
            logger.exception("GanCaptcha: could not issue a challenge")
        return JsonResponse(
            {"error": "unavailable", "message": str(UNAVAILABLE_MESSAGE)},
            status=503,
            headers=_NO_STORE,
        )
    return JsonResponse(
        {
            "key": challenge.key,
            "image_url": links.image_url(challenge.key),
            "image_2x_url": links.image_2x_url(challenge.key),
            "audio_url": spoken.audio_url(challenge.key),
        },
        headers=_NO_STORE,
    )
