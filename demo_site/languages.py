"""The demo's languages: its settings and the test settings both offer these.

Arabic is right to left (the base template sets dir). The audio speaks the
first eight (gancaptcha_field.audio.LANGUAGES); Russian, Japanese, Chinese and
Arabic get the English voice (audio.language_for).
"""

from __future__ import annotations

LANGUAGES = [
    ("en", "English"),
    ("es", "Español"),
    ("de", "Deutsch"),
    ("fr", "Français"),
    ("it", "Italiano"),
    ("pt-br", "Português Brasileiro"),
    ("nl", "Nederlands"),
    ("pl", "Polski"),
    ("ru", "Русский"),
    ("ja", "日本語"),
    ("zh-hans", "简体中文"),
    ("ar", "العربيّة"),
]
