"""JSON API: issue a challenge to a client that renders it itself (SPA, mobile app).

``POST /gancaptcha/issue/`` returns the key, the image (URL and data: URI), the
audio URL and the expiry. The client sends the key and the typed answer back
with its own form; GanCaptchaField (forms) or GanCaptchaSerializerField (DRF)
verifies them there, single use, exactly as for the HTML widget.

The endpoint is CSRF-exempt on purpose: issuing a challenge changes nothing a
user owns, a cross-site page cannot read the response (no CORS headers are
sent), and API clients (native apps, token-authenticated SPAs) hold no CSRF
cookie. Abuse by volume is what is left, and the ``create`` rate limit covers
it as it covers page renders. POST only, so that link prefetchers and crawlers
never issue challenges.
"""

from __future__ import annotations

import base64
import logging
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from gancaptcha_field import audio, challenges, links, ratelimit
from gancaptcha_field.widgets import UNAVAILABLE_MESSAGE

logger = logging.getLogger(__name__)

_NO_STORE = {"Cache-Control": "no-store"}


def challenge_payload(
    request: HttpRequest, challenge: challenges.Issued, png: bytes
) -> dict[str, Any]:
    """What a client needs to show a challenge: absolute URLs and an inline PNG."""
    key = challenge.key
    encoded = base64.b64encode(png).decode("ascii")
    return {
        "key": key,
        "image_url": request.build_absolute_uri(links.image_url(key)),
        "image_2x_url": request.build_absolute_uri(links.image_2x_url(key)),
        "image_data_uri": f"data:image/png;base64,{encoded}",
        "audio_url": request.build_absolute_uri(audio.audio_url(key)),
        "expires_at": challenge.expires_at.isoformat(),
    }


@csrf_exempt
@require_POST
def issue(request: HttpRequest) -> JsonResponse:
    """Issue a new challenge as JSON (201); 429 when rate limited, 503 if none."""
    verdict = ratelimit.hit(ratelimit.CREATE, request)
    if verdict.limited:
        return JsonResponse(
            {
                "error": "rate_limited",
                "message": str(ratelimit.RATE_LIMITED_MESSAGE),
                "retry_after": verdict.retry_after,
            },
            status=429,
            headers={**_NO_STORE, "Retry-After": str(verdict.retry_after)},
        )
    try:
        challenge = challenges.create_challenge()
        png = challenges.get_png(challenge.key)
        if png is None:  # gone at once: a clock or store fault, not the client's
            raise challenges.CaptchaUnavailable("the new challenge vanished")
    except Exception as exc:  # a JSON 503 for the client, never a 500 page
        if not isinstance(exc, challenges.CaptchaUnavailable):  # logged already
            logger.exception("GanCaptcha: could not issue a challenge")
        return JsonResponse(
            {"error": "unavailable", "message": str(UNAVAILABLE_MESSAGE)},
            status=503,
            headers=_NO_STORE,
        )
    return JsonResponse(
        challenge_payload(request, challenge, png), status=201, headers=_NO_STORE
    )
