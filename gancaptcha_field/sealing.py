"""Internal. Answers sealed at rest: what a leaked table or cache holds says nothing.

The audio view must still speak the digits, so a one-way hash is not enough.
Each stored answer is sealed with a fresh random nonce: the digits, read as
one number, are shifted mod 10**n by a pad drawn from HMAC-SHA256 of the nonce
under a key derived from SECRET_KEY (``salted_hmac``). Stored form::

    s1$<nonce>$<sealed digits>$<tag>

A challenge with a trap (GANCAPTCHA_TRAP) seals its baits, the answers stock
solvers give, with the answer: ``s<n>``, whose sealed digits are n groups of
one length, the answer's first, then each bait's.

The tag (HMAC of the rest) tells which secret sealed it, so answers sealed
before a SECRET_KEY rotation still open with SECRET_KEY_FALLBACKS, and a
tampered or foreign value opens to nothing. Without SECRET_KEY the sealed
digits are uniformly random whatever the answer: a one-time pad per row.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Sequence

from django.conf import settings
from django.utils.crypto import salted_hmac

MAX_BAITS = 3
# Sealed answers of four digits are 2 + 17 + 5 + 13 = 37 characters; with
# three baits 49.
MAX_LENGTH = 64
_SALT = "gancaptcha_field.sealing.answer"
_NONCE_BYTES = 12
_TAG_CHARS = 12


def _secrets() -> list[str]:
    return [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]


def _pad(nonce: str, width: int, secret: str) -> int:
    digest = salted_hmac(_SALT, f"pad${nonce}", secret, algorithm="sha256").digest()
    # 256 bits mod 10**width: the bias is below 2**-240.
    return int(int.from_bytes(digest, "big") % 10**width)


def _tag(body: str, secret: str) -> str:
    mac = salted_hmac(_SALT, f"tag${body}", secret, algorithm="sha256")
    return mac.hexdigest()[:_TAG_CHARS]


def _digits(text: str) -> bool:
    return bool(text) and text.isascii() and text.isdigit()


def seal(answer: str, baits: Sequence[str] = ()) -> str:
    """The stored form of an answer of ASCII digits (ValueError otherwise),
    with up to MAX_BAITS baits, each as long as the answer."""
    if not _digits(answer):
        raise ValueError("only answers of ASCII digits are sealed")
    if isinstance(baits, str) or len(baits) > MAX_BAITS:
        raise ValueError(f"baits are a sequence of at most {MAX_BAITS}")
    if any(not _digits(b) or len(b) != len(answer) for b in baits):
        raise ValueError("a bait is ASCII digits, as many as the answer")
    secret = settings.SECRET_KEY
    nonce = secrets.token_urlsafe(_NONCE_BYTES)
    digits = answer + "".join(baits)
    width = len(digits)
    sealed = (int(digits) + _pad(nonce, width, secret)) % 10**width
    body = f"{_prefix(1 + len(baits))}${nonce}${sealed:0{width}d}"
    return f"{body}${_tag(body, secret)}"


def unseal(stored: object) -> str | None:
    """The answer a sealed value holds; None if it is not one of ours."""
    opened = open_sealed(stored)
    return None if opened is None else opened[0]


def _prefix(groups: int) -> str:
    """s1: the answer alone; s2, s3, ...: the answer and its baits."""
    return f"s{groups}"


_PREFIXES = {_prefix(n): n for n in range(1, MAX_BAITS + 2)}


def looks_sealed(stored: object) -> bool:
    """Whether a stored value has a sealed form's prefix (s1, s2, ...)."""
    return isinstance(stored, str) and stored.split("$", 1)[0] in _PREFIXES


def open_sealed(stored: object) -> tuple[str, tuple[str, ...]] | None:
    """(answer, baits) a sealed value holds; None if it is not one of ours."""
    if not isinstance(stored, str):
        return None
    parts = stored.split("$")
    if len(parts) != 4 or parts[0] not in _PREFIXES:
        return None
    _, nonce, sealed, tag = parts
    if not sealed or not (sealed.isascii() and sealed.isdigit()):
        return None
    body = stored.rsplit("$", 1)[0]
    for secret in _secrets():
        if hmac.compare_digest(_tag(body, secret), tag):
            width = len(sealed)
            opened = (int(sealed) - _pad(nonce, width, secret)) % 10**width
            digits = f"{opened:0{width}d}"
            groups = _PREFIXES[parts[0]]
            if width % groups:
                return None  # seal() makes groups of one length: not ours
            size = width // groups
            chunks = [digits[i : i + size] for i in range(0, width, size)]
            return chunks[0], tuple(chunks[1:])
    return None
