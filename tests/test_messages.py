"""User-facing texts: one bottom module, every text translated."""

from __future__ import annotations

import ast
from pathlib import Path

from django.utils import translation
from django.utils.functional import Promise

from gancaptcha_field import messages

SOURCE = Path(messages.__file__).read_text(encoding="utf-8")


def test_messages_is_a_bottom_module() -> None:
    imported = [
        node.module or ""
        for node in ast.walk(ast.parse(SOURCE))
        if isinstance(node, ast.ImportFrom)
    ]
    assert not [name for name in imported if name.startswith("gancaptcha_field")]


def test_every_message_is_lazy_and_has_spanish() -> None:
    texts = {name: value for name, value in vars(messages).items() if name.isupper()}
    assert set(texts) >= {
        "REFUSED",
        "REQUIRED",
        "UNAVAILABLE",
        "RATE_LIMITED",
        "MALFORMED",
        "TRY_AGAIN_SHORTLY",
    }
    for name, text in texts.items():
        assert isinstance(text, Promise), name  # translated per request
        with translation.override("es"):
            spanish = str(text)
        with translation.override("en"):
            english = str(text)
        assert spanish != english, f"no Spanish for {name}"
