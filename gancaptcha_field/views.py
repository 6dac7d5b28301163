"""HTTP endpoints: the challenge image and a fresh challenge for the refresh button."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_POST, require_safe

from gancaptcha_field import challenges
from gancaptcha_field.widgets import UNAVAILABLE_MESSAGE

# Each image answers one challenge only: nothing may keep or share it.
_NO_STORE = {"Cache-Control": "no-store"}


@require_safe
def image(request: HttpRequest, key: str) -> HttpResponse:
    """The PNG of a live challenge; 410 Gone for unknown, expired or used keys."""
    png = challenges.get_png(key)
    if png is None:
        return HttpResponse(status=410, headers=_NO_STORE)
    return HttpResponse(png, content_type="image/png", headers=_NO_STORE)


@require_POST
@csrf_protect
def refresh(request: HttpRequest) -> JsonResponse:
    """Discard the posted old key (if any) and issue a new challenge as JSON."""
    old_key = request.POST.get("key", "")
    if old_key:
        challenges.discard(old_key)
    try:
        challenge = challenges.create_challenge()
    except challenges.CaptchaUnavailable:
        return JsonResponse(
            {"error": "unavailable", "message": str(UNAVAILABLE_MESSAGE)},
            status=503,
            headers=_NO_STORE,
        )
    return JsonResponse(
        {
            "key": challenge.key,
            "image_url": reverse("gancaptcha:image", kwargs={"key": challenge.key}),
        },
        headers=_NO_STORE,
    )
