"""English and Spanish: complete catalogues, compiled, and used by the pages."""

from __future__ import annotations

import ast
import gettext
import re
from pathlib import Path

import pytest

from django import forms
from django.conf import settings
from django.test import Client
from django.utils import translation
from django.utils.functional import Promise

from gancaptcha_field.fields import GanCaptchaField
from gancaptcha_field.widgets import GanCaptchaWidget
from tests.utils import find_tag

ROOT = Path(__file__).resolve().parent.parent
CATALOGUES = [
    ROOT / "gancaptcha_field" / "locale" / "es" / "LC_MESSAGES" / "django.po",
    ROOT / "demo_site" / "signup" / "locale" / "es" / "LC_MESSAGES" / "django.po",
]
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")


def read_po(path: Path) -> dict[str, str]:
    """msgid -> msgstr of a simple .po file (no plurals, no contexts)."""
    entries: dict[str, str] = {}
    msgid: list[str] | None = None
    msgstr: list[str] | None = None
    current: list[str] | None = None

    def flush() -> None:
        if msgid is not None and msgstr is not None and "".join(msgid):
            entries["".join(msgid)] = "".join(msgstr)

    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("msgid "):
            flush()
            msgid, msgstr = [ast.literal_eval(line[6:])], None
            current = msgid
        elif line.startswith("msgstr "):
            msgstr = [ast.literal_eval(line[7:])]
            current = msgstr
        elif line.startswith('"') and current is not None:
            current.append(ast.literal_eval(line))
        elif line.startswith(("msgid_plural", "msgctxt")):
            raise AssertionError(f"{path}: the test's reader does not handle {line}")
    flush()
    return entries


class CaptchaForm(forms.Form):
    captcha = GanCaptchaField()


@pytest.mark.parametrize("po", CATALOGUES, ids=lambda p: p.parts[-5])
def test_spanish_catalogue_is_complete_and_compiled(po: Path) -> None:
    entries = read_po(po)
    assert len(entries) > 10
    with open(po.with_suffix(".mo"), "rb") as fh:
        compiled = gettext.GNUTranslations(fh)
    for msgid, msgstr in entries.items():
        assert msgstr, f"untranslated: {msgid!r}"
        assert PLACEHOLDER.findall(msgid) == PLACEHOLDER.findall(msgstr), msgid
        # The .mo says what the .po says: compilemessages was run after editing.
        assert compiled.gettext(msgid) == msgstr, f"recompile for {msgid!r}"
    assert "#, fuzzy" not in po.read_text(encoding="utf-8")


def test_settings_offer_english_and_spanish() -> None:
    assert [code for code, _ in settings.LANGUAGES] == ["en", "es"]
    assert "django.middleware.locale.LocaleMiddleware" in settings.MIDDLEWARE


@pytest.mark.django_db
def test_every_field_and_widget_message_is_translated() -> None:
    texts = list(GanCaptchaField.default_error_messages.values())
    context = GanCaptchaWidget().get_context("captcha", None, {"id": "id_captcha"})
    texts += [v for v in context["gancaptcha"].values() if isinstance(v, Promise)]
    assert len(texts) >= 12
    for text in texts:
        with translation.override("es"):
            spanish = str(text)
        with translation.override("en"):
            english = str(text)
        assert spanish != english, f"no Spanish for {english!r}"


@pytest.mark.usefixtures("captcha_models")
@pytest.mark.django_db
class TestSpanishPages:
    def test_signup_page_in_spanish(self, client: Client) -> None:
        html = client.get(
            "/signup/", headers={"Accept-Language": "es"}
        ).content.decode()
        assert '<html lang="es">' in html
        assert "<h1>Crear una cuenta</h1>" in html
        assert "¿Es usted humano?" in html
        image = find_tag(html, "img")
        assert image["alt"].startswith("Escriba los cuatro dígitos")
        assert find_tag(html, "label", **{"for": "id_captcha_1"}) is not None
        assert ">Los cuatro dígitos</label>" in html
        assert find_tag(html, "audio")["src"].endswith("/audio.wav?lang=es")
        for english in ("The four digits", "New image", "Play the digits"):
            assert english not in html

    def test_wrong_answer_in_spanish(self, client: Client) -> None:
        page = client.get("/signup/", headers={"Accept-Language": "es"})
        key = find_tag(page.content.decode(), "input", name="captcha_0")["value"]
        response = client.post(
            "/signup/",
            {"username": "ada", "captcha_0": key, "captcha_1": "no"},
            headers={"Accept-Language": "es"},
        )
        assert "Respuesta incorrecta. Pruebe con la nueva imagen." in (
            response.content.decode()
        )

    def test_language_switcher(self, client: Client) -> None:
        html = client.get("/signup/").content.decode()
        switcher = find_tag(html, "form", **{"class": "language"})
        assert switcher["action"] == "/i18n/setlang/"
        assert find_tag(html, "option", value="es")["lang"] == "es"
        assert "selected" in find_tag(html, "option", value="en")
        response = client.post("/i18n/setlang/", {"language": "es", "next": "/signup/"})
        assert response.status_code == 302
        assert response["Location"] == "/signup/"
        html = client.get("/signup/").content.decode()
        assert '<html lang="es">' in html
        assert "selected" in find_tag(html, "option", value="es")
        # And back again.
        client.post("/i18n/setlang/", {"language": "en", "next": "/signup/"})
        assert '<html lang="en">' in client.get("/signup/").content.decode()
