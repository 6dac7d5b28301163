"""Internal. Answers and keys: both from the OS's CSPRNG, never from a seeded
generator."""

from __future__ import annotations

import secrets

from gancaptcha_field import constants

KEY_BYTES = 24  # secrets.token_urlsafe(24): 32 characters, 192 bits


def new_answer() -> str:
    """Four digits from the OS's CSPRNG."""
    return "".join(
        str(secrets.randbelow(constants.NUM_CLASSES))
        for _ in range(constants.ANSWER_LENGTH)
    )


def new_key() -> str:
    """A fresh challenge key (URL-safe, 192 bits)."""
    return secrets.token_urlsafe(KEY_BYTES)


def check_answer(answer: str) -> None:
    """Raise ValueError unless answer is ANSWER_LENGTH ASCII digits."""
    if len(answer) != constants.ANSWER_LENGTH or not (
        answer.isascii() and answer.isdigit()
    ):
        raise ValueError(f"answer must be {constants.ANSWER_LENGTH} ASCII digits")
