"""The challenge store: create, fetch, verify and expire challenges.

Every submission consumes its challenge, right or wrong. The row count of one
conditional DELETE decides who consumed it, so two concurrent submissions of a
solved challenge cannot both pass (no read-then-delete race).
"""

from __future__ import annotations

import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from django.utils import timezone

from gancaptcha_field import constants, registry
from gancaptcha_field.conf import conf
from gancaptcha_field.imaging import compose_png
from gancaptcha_field.models import KEY_MAX_LENGTH, Challenge

# Callers catch this one name; it covers missing models and a failed draw.
CaptchaUnavailable = registry.CaptchaUnavailable

# What secrets.token_urlsafe() emits; anything else is never looked up.
_KEY_RE = re.compile(rf"[A-Za-z0-9_-]{{1,{KEY_MAX_LENGTH}}}")
_KEY_BYTES = 24  # 192 bits


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
    """True when the models can draw challenges."""
    return registry.get_registry().status().ok


def create_challenge() -> Challenge:
    """Draw a fresh challenge with a random answer; raises CaptchaUnavailable."""
    answer = "".join(str(secrets.randbelow(10)) for _ in range(constants.ANSWER_LENGTH))
    return _create_with_answer(answer)


def _create_with_answer(answer: str) -> Challenge:
    if len(answer) != constants.ANSWER_LENGTH or not (
        answer.isascii() and answer.isdigit()
    ):
        raise ValueError(f"answer must be {constants.ANSWER_LENGTH} ASCII digits")
    digits = registry.get_registry().draw([int(c) for c in answer])
    # The image is made once, here, so that serving it is a plain read.
    png = compose_png(digits, conf.IMAGE_SCALE)
    png_2x = compose_png(digits, 2 * conf.IMAGE_SCALE)
    now = timezone.now()
    return Challenge.objects.create(
        key=secrets.token_urlsafe(_KEY_BYTES),
        answer=answer,
        png=png,
        png_2x=png_2x,
        created_at=now,
        expires_at=now + timedelta(seconds=conf.TIMEOUT),
    )


def get_png(key: str, hidpi: bool = False) -> bytes | None:
    """The PNG (1x, or 2x for HiDPI) of a live challenge; None if not live."""
    if not is_valid_key(key):
        return None
    png = (
        Challenge.objects.filter(key=key, expires_at__gt=timezone.now())
        .values_list("png_2x" if hidpi else "png", flat=True)
        .first()
    )
    # PostgreSQL hands back a memoryview, SQLite bytes.
    return None if png is None else bytes(png)


def verify(key: str, answer: str) -> Result:
    """Check answer against key and consume the challenge, whatever the outcome."""
    if conf.TEST_MODE and _is_test_answer(answer):
        discard(key)
        return Result(Code.OK)
    if not is_valid_key(key):
        return Result(Code.UNKNOWN)
    now = timezone.now()
    # The answer never changes once issued, so reading it first is safe: only
    # the DELETE below decides who gets to use it.
    row = Challenge.objects.filter(key=key).values_list("answer", "expires_at").first()
    consumed, _ = Challenge.objects.filter(key=key, expires_at__gt=now).delete()
    purge_expired(now)
    if row is None:
        return Result(Code.UNKNOWN)
    expected, expires_at = row
    if not consumed:
        # Expired, or a concurrent submission consumed it first.
        return Result(Code.EXPIRED if expires_at <= now else Code.UNKNOWN)
    # Bytes: compare_digest() refuses non-ASCII str.
    if hmac.compare_digest(answer.encode(), expected.encode()):
        return Result(Code.OK)
    return Result(Code.INVALID)


def discard(key: str) -> None:
    """Delete a challenge, if it exists (e.g. when the user asks for a new one)."""
    if is_valid_key(key):
        Challenge.objects.filter(key=key).delete()


def purge_expired(now: datetime | None = None) -> int:
    """Delete expired challenges; return how many."""
    deleted, _ = Challenge.objects.filter(
        expires_at__lte=now or timezone.now()
    ).delete()
    return deleted


def _is_test_answer(answer: str) -> bool:
    return answer.strip().casefold() == conf.TEST_ANSWER.casefold()
