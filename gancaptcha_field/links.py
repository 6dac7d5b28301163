"""Internal. A challenge's URLs (image, HiDPI image, audio), reversed once per URL
prefix.

``reverse()`` costs more than the rest of making the refresh JSON; a page view
and a refresh each need three of these URLs. They differ only by the key, so
each is reversed once with a placeholder for every URLconf, script prefix and
language (``i18n_patterns`` puts the language in the path), and the key is put
in its place. Keys are URL-safe base64, which ``reverse()`` would not quote
either; any other string goes through ``reverse()`` itself.
"""

from __future__ import annotations

import functools
import re

from django.conf import settings
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils import translation

_PLACEHOLDER = "gancaptcha-key-placeholder"
_SAFE_KEY = re.compile(r"[A-Za-z0-9_-]+")


@functools.lru_cache(maxsize=256)
def _reversed(name: str, with_key: bool, *where: str | None) -> str:
    # ``where`` (URLconf, script prefix, language) is only the cache key:
    # reverse() reads the same from the current thread.
    return reverse(name, kwargs={"key": _PLACEHOLDER} if with_key else None)


def _where() -> tuple[str | None, ...]:
    return (
        get_urlconf() or settings.ROOT_URLCONF,
        get_script_prefix(),
        translation.get_language(),
    )


def url_for(name: str, key: str) -> str:
    """``reverse(name, kwargs={"key": key})``, mostly without reversing."""
    if not _SAFE_KEY.fullmatch(key):
        return reverse(name, kwargs={"key": key})
    head, _, tail = _reversed(name, True, *_where()).rpartition(_PLACEHOLDER)
    return f"{head}{key}{tail}"


def image_url(key: str) -> str:
    """The challenge's PNG."""
    return url_for("gancaptcha:image", key)


def image_2x_url(key: str) -> str:
    """The challenge's PNG at twice the pixels."""
    return url_for("gancaptcha:image_2x", key)


def audio_path(key: str) -> str:
    """The challenge's spoken digits, without the language query."""
    return url_for("gancaptcha:audio", key)


def refresh_url() -> str:
    """The refresh endpoint."""
    return _reversed("gancaptcha:refresh", False, *_where())


def no_reading_url() -> str:
    """The endpoint that hands out no-reading puzzles."""
    return _reversed("gancaptcha:no_reading", False, *_where())
