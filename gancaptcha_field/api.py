"""Internal. The JSON endpoints: a new challenge for the widget's refresh button and for
clients that render it themselves (SPA, mobile app). Both issue through
issuing.issue_for(), as the widget does, and only present its outcome as JSON.

``POST /gancaptcha/refresh/`` (CSRF-protected, for the widget's script) discards
the posted old key and answers the key, image, 2x image and audio URLs.
``POST /gancaptcha/issue/`` answers 201 with absolute URLs, the image as a
data: URI and the expiry. The client sends the key and the typed answer back
with its own form; GanCaptchaField (forms) or GanCaptchaSerializerField (DRF)
verifies them there, single use, exactly as for the HTML widget.

The issue endpoint is CSRF-exempt on purpose: issuing a challenge changes
nothing a user owns, a cross-site page cannot read the response (no CORS
headers are sent), and API clients (native apps, token-authenticated SPAs)
hold no CSRF cookie. Abuse by volume is what is left, and the ``create`` rate
limit covers it as it covers page renders. Both are POST only, so that link
prefetchers and crawlers never issue challenges.

``POST /gancaptcha/no-reading/`` with a live challenge's ``key`` (form-encoded
or JSON) answers a no-reading puzzle: the way through that needs no reading
(WCAG 2.2, SC 3.3.8). The client solves it (the widget's script does, in Web
Workers) and sends the solution as ``no_reading`` with the key, in place of an
answer. Each puzzle counts against the client's strict ``no_reading`` rate
(3 an hour by default) and towards the site-wide rate that makes the next
puzzles heavier (pow.py). It needs no cookie, so it is CSRF-exempt for the
reasons the issue endpoint is.

Errors are JSON with ``error`` and ``message``, never a 500 page: 400
``malformed``, 410 ``gone`` (no such live challenge), 429 ``rate_limited``
and 503 ``busy`` (drawing for another visitor, or an empty pool: try again in
a few seconds) and 503 ``unavailable``, the last three with Retry-After.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_POST

from gancaptcha_field import audio, challenges, issuing, links, ratelimit
from gancaptcha_field import pow as proof_of_work
from gancaptcha_field.conf import conf
from gancaptcha_field.issuing import UNAVAILABLE_RETRY_AFTER, Reason
from gancaptcha_field.messages import (
    GONE,
    MALFORMED_KEY,
    NO_READING_LIMITED,
    UNAVAILABLE,
)

logger = logging.getLogger(__name__)

_NO_STORE = {"Cache-Control": "no-store"}

# The HTTP status of each refusal (issuing.Reason); HEAD never gets here (POST only).
_STATUS = {Reason.RATE_LIMITED: 429, Reason.BUSY: 503, Reason.UNAVAILABLE: 503}

Payload = Callable[[HttpRequest, challenges.Issued], dict[str, Any]]


def challenge_payload(
    request: HttpRequest, challenge: challenges.Issued
) -> dict[str, Any]:
    """What a client needs to show a challenge: absolute URLs and an inline PNG
    (with GANCAPTCHA_INLINE_IMAGE, the 2x one too)."""
    key = challenge.key
    inline = _data_uris(key)
    return {
        "key": key,
        "image_url": request.build_absolute_uri(links.image_url(key)),
        "image_2x_url": request.build_absolute_uri(links.image_2x_url(key)),
        "image_data_uri": inline[0],
        **({"image_2x_data_uri": inline[1]} if conf.INLINE_IMAGE else {}),
        "audio_url": request.build_absolute_uri(audio.audio_url(key)),
        "expires_at": challenge.expires_at.isoformat(),
        **_pow_part(key),
        **_no_reading_part(request),
    }


def _data_uris(key: str) -> tuple[str, str]:
    """Both PNGs of a challenge just issued, as data: URIs, in one store read."""
    inline = challenges.data_uris(key)
    if inline is None:  # gone at once: a clock or store fault, not the client's
        raise challenges.CaptchaUnavailable("the new challenge vanished")
    return inline


def _inline_part(key: str) -> dict[str, Any]:
    """With GANCAPTCHA_INLINE_IMAGE, both PNGs as data: URIs (no second request)."""
    if not conf.INLINE_IMAGE:
        return {}
    inline = _data_uris(key)
    return {"image_data_uri": inline[0], "image_2x_data_uri": inline[1]}


def _pow_part(key: str) -> dict[str, Any]:
    """With GANCAPTCHA_POW["answers"], the puzzle the client solves and sends
    as "pow"."""
    puzzle = issuing.puzzle(key)
    return {} if puzzle is None else {"pow": puzzle}


def _no_reading_part(request: HttpRequest) -> dict[str, Any]:
    """Where to get a no-reading puzzle: with GANCAPTCHA_NO_READING, or when
    the client asks (``no_reading=1``: a login form offers it whatever the
    setting)."""
    if not (conf.NO_READING or request.POST.get("no_reading") == "1"):
        return {}
    return {"no_reading_url": request.build_absolute_uri(links.no_reading_url())}


def _refresh_payload(
    request: HttpRequest, challenge: challenges.Issued
) -> dict[str, Any]:
    key = challenge.key
    return {
        "key": key,
        "image_url": links.image_url(key),
        "image_2x_url": links.image_2x_url(key),
        "audio_url": audio.audio_url(key),
        **_inline_part(key),
        **_pow_part(key),
    }


def _error(
    error: str, message: Any, status: int, retry_after: int | None = None
) -> JsonResponse:
    body: dict[str, Any] = {"error": error, "message": str(message)}
    headers = dict(_NO_STORE)
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
        if status == 429:
            body["retry_after"] = retry_after
    return JsonResponse(body, status=status, headers=headers)


def issue_json(
    request: HttpRequest, payload: Payload, status: int, old_key: str = ""
) -> JsonResponse:
    """issuing.issue_for() as JSON: the payload, or the refusal with its status."""
    outcome = issuing.issue_for(request, old_key)
    if isinstance(outcome, issuing.Issued):
        try:
            body = payload(request, outcome)
        except Exception as exc:  # a JSON 503 for the client, never a 500 page
            outcome = issuing.refusal_for(exc)
        else:
            return JsonResponse(body, status=status, headers=_NO_STORE)
    return _error(
        outcome.reason,
        outcome.message,
        _STATUS.get(outcome.reason, 503),
        outcome.retry_after,
    )


@csrf_exempt
@require_POST
def issue(request: HttpRequest) -> JsonResponse:
    """Issue a new challenge as JSON (201); 429 when rate limited, 503 if none."""
    return issue_json(request, challenge_payload, 201)


@require_POST
@csrf_protect
def refresh(request: HttpRequest) -> JsonResponse:
    """Discard the posted old key (if any) and issue a new challenge as JSON."""
    return issue_json(request, _refresh_payload, 200, request.POST.get("key", ""))


# A key is at most 43 characters; anything much longer is not a key request.
_MAX_BODY = 1024


def _posted_key(request: HttpRequest) -> object:
    """The ``key`` of a form-encoded or JSON body; None when there is none."""
    if request.content_type == "application/json":
        if len(request.body) > _MAX_BODY:
            return None
        try:
            body = json.loads(request.body)
        except (ValueError, UnicodeDecodeError):
            return None
        return body.get("key") if isinstance(body, dict) else None
    return request.POST.get("key")


@csrf_exempt
@require_POST
def no_reading(request: HttpRequest) -> JsonResponse:
    """A no-reading puzzle for a live challenge (200); 400, 410, 429 or 503."""
    key = _posted_key(request)
    if not isinstance(key, str) or not challenges.is_valid_key(key):
        return _error("malformed", MALFORMED_KEY, 400)
    try:
        live = challenges.is_live(key)
    except Exception:
        logger.exception("GanCaptcha: could not look a challenge up")
        return _error("unavailable", UNAVAILABLE, 503, UNAVAILABLE_RETRY_AFTER)
    if not live:
        return _error("gone", GONE, 410)
    verdict = ratelimit.hit(ratelimit.NO_READING, request)
    if verdict.limited:
        return _error("rate_limited", NO_READING_LIMITED, 429, verdict.retry_after)
    puzzle = proof_of_work.puzzle_for(key, purpose=proof_of_work.NO_READING)
    proof_of_work.record(proof_of_work.NO_READING)  # heavier for the next ones
    return JsonResponse(
        {"no_reading": {"key": key, **puzzle.as_dict()}}, headers=_NO_STORE
    )
