"""Every language of settings.LANGUAGES: complete catalogues, compiled, and used
by the widget, the field's messages and the demo's pages (issue 21)."""

from __future__ import annotations

import ast
import gettext
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

import django
from django import forms
from django.conf import settings
from django.test import Client
from django.utils import translation
from django.utils.functional import Promise
from django.utils.translation import get_language_info, to_locale

from gancaptcha_field import audio, messages
from gancaptcha_field.fields import GanCaptchaField
from gancaptcha_field.testing import answer_for
from gancaptcha_field.widgets import _TEXTS, GanCaptchaWidget
from tests.utils import find_tag, find_tags, signup_data

ROOT = Path(__file__).resolve().parent.parent
LOCALE_DIRS = {
    "gancaptcha_field": ROOT / "gancaptcha_field" / "locale",
    "signup": ROOT / "demo_site" / "signup" / "locale",
}
DJANGO_LOCALE = Path(django.__file__).resolve().parent / "conf" / "locale"
# The twelve, in the order the language switcher lists them.
EXPECTED_LANGUAGES = [
    "en", "es", "de", "fr", "it", "pt-br", "nl", "pl", "ru", "ja", "zh-hans", "ar",
]  # fmt: skip
SOURCE_LANGUAGE = "en"
# Every catalogue of an app has the msgids of this one (the first translation).
REFERENCE_LOCALE = "es"
TRANSLATED = [code for code, _ in settings.LANGUAGES if code != SOURCE_LANGUAGE]
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")
TAG = re.compile(r"</?[a-z]+>")
# What a sentence may end with in each script, by the English sentence's end.
# (Japanese and Chinese full stop, full-width ? and !, Arabic question mark.)
ENDINGS = {".": ".\u3002", "?": "?\uff1f\u061f", "!": "!\uff01"}

# Texts that are rightly the same as the English, with the reason; "*" is every
# language. Anything else equal to the English is an untranslated string.
SAME_AS_ENGLISH = {
    ("*", "GanCaptcha"): "the product's name",
    ("fr", "Site"): "French for a website is « site » (the nav's aria-label)",
    ("pt_BR", "Site"): "Brazilian Portuguese for a website is « site »",
    ("nl", "Label"): "Dutch uses « label » for a classifier's label",
    ("it", "Password:"): "Italian says « password » (Django's own form label)",
}

# The CAPTCHA's label is a question in English; Django appends its label suffix
# (":") unless a label ends in one of ":?.!", so the full-width and Arabic
# question marks would get one.
# These languages say it as a heading instead ("human verification").
QUESTION_AS_HEADING = {
    ("ja", "Are you human?"),
    ("zh_Hans", "Are you human?"),
    ("ar", "Are you human?"),
}


def same_allowed(locale: str, text: str) -> bool:
    return ("*", text) in SAME_AS_ENGLISH or (locale, text) in SAME_AS_ENGLISH


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


def catalogue(app: str, locale: str) -> Path:
    return LOCALE_DIRS[app] / locale / "LC_MESSAGES" / "django.po"


def mo_info(path: Path) -> dict[str, str]:
    with open(path, "rb") as fh:
        return gettext.GNUTranslations(fh).info()


class CaptchaForm(forms.Form):
    captcha = GanCaptchaField()


def test_settings_offer_the_twelve_languages() -> None:
    assert [code for code, _ in settings.LANGUAGES] == EXPECTED_LANGUAGES
    assert "django.middleware.locale.LocaleMiddleware" in settings.MIDDLEWARE
    from demo_site import settings as demo_settings

    assert demo_settings.LANGUAGES == settings.LANGUAGES
    for code, name in settings.LANGUAGES:
        # The switcher shows Django's name_local; the settings say the same.
        assert get_language_info(code)["name_local"].lower() == name.lower()
    assert [code for code in EXPECTED_LANGUAGES if get_language_info(code)["bidi"]] == [
        "ar"
    ]


@pytest.mark.parametrize("app", LOCALE_DIRS)
@pytest.mark.parametrize("code", TRANSLATED)
def test_catalogue_is_complete_and_compiled(app: str, code: str) -> None:
    locale = to_locale(code)
    po = catalogue(app, locale)
    entries = read_po(po)
    assert set(entries) == set(read_po(catalogue(app, REFERENCE_LOCALE)))
    assert len(entries) > 10
    with open(po.with_suffix(".mo"), "rb") as fh:
        compiled = gettext.GNUTranslations(fh)
    for msgid, msgstr in entries.items():
        assert msgstr, f"untranslated: {msgid!r}"
        assert msgstr != msgid or same_allowed(locale, msgid), f"English: {msgid!r}"
        assert sorted(PLACEHOLDER.findall(msgid)) == sorted(
            PLACEHOLDER.findall(msgstr)
        ), msgid
        assert TAG.findall(msgid) == TAG.findall(msgstr), msgid
        assert msgstr == msgstr.strip(), msgid
        end = ENDINGS.get(msgid[-1])
        if end is None or (locale, msgid) in QUESTION_AS_HEADING:  # a label
            assert msgstr[-1] not in "".join(ENDINGS.values()), msgid
        else:
            assert msgstr[-1] in end, msgid
        # The .mo says what the .po says: compilemessages was run after editing.
        assert compiled.gettext(msgid) == msgstr, f"recompile for {msgid!r}"
    assert "#, fuzzy" not in po.read_text(encoding="utf-8")
    # The plural rule of Django's own compiled catalogue of the language (pl
    # and ru have four forms, ar six), so that both agree.
    ours = compiled.info()
    django_own = mo_info(DJANGO_LOCALE / locale / "LC_MESSAGES" / "django.mo")
    assert ours["language"] == locale
    assert ours["plural-forms"] == django_own["plural-forms"]


def translatable_texts() -> list[Promise]:
    """What the field, the widget and the app's views say to people."""
    texts = list(GanCaptchaField.default_error_messages.values())
    texts += [v for v in vars(messages).values() if isinstance(v, Promise)]
    texts += list(_TEXTS.values())
    return texts


@pytest.mark.django_db
@pytest.mark.parametrize("code", TRANSLATED)
def test_every_field_and_widget_message_is_translated(code: str) -> None:
    context = GanCaptchaWidget().get_context("captcha", None, {"id": "id_captcha"})
    in_context = [v for v in context["gancaptcha"].values() if isinstance(v, Promise)]
    texts = translatable_texts()
    # Whatever the widget shows is among the texts checked below.
    assert set(map(str, in_context)) <= set(map(str, texts))
    assert len(texts) >= 25
    for text in texts:
        with translation.override(code):
            translated = str(text)
        with translation.override(SOURCE_LANGUAGE):
            english = str(text)
        assert translated != english, f"no {code} for {english!r}"


class _Texts(HTMLParser):
    """What a person reads or hears on a page: text, and the attributes read out."""

    READ_ATTRIBUTES = {"alt", "title", "aria-label", "placeholder"}

    def __init__(self) -> None:
        super().__init__()
        self.texts: set[str] = set()
        self._skip: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in {"script", "style", "option"}:
            # An option names its language in that language, on every page.
            self._skip.append(tag)
        for name, value in attrs:
            if value and (name in self.READ_ATTRIBUTES or name.endswith("-message")):
                self.add(value)

    def handle_endtag(self, tag: str) -> None:
        if self._skip and self._skip[-1] == tag:
            self._skip.pop()

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.add(data)

    def add(self, text: str) -> None:
        text = " ".join(text.split())
        # Numbers, signs and timestamps (2026-11-22T05:50) read the same.
        if re.search(r"[^\W\d_]{2}", text):
            self.texts.add(text)


def texts_of(html: str) -> set[str]:
    parser = _Texts()
    parser.feed(html)
    return parser.texts


def key_of(html: str) -> str:
    key = find_tag(html, "input", name="captcha_0")["value"]
    assert key
    return key


@pytest.mark.usefixtures("captcha_models")
@pytest.mark.django_db
class TestPages:
    """The demo's pages and the widget, in every language, with nothing left in
    English: each text of the English page must be gone from the other's."""

    def pages(self, client: Client, code: str) -> list[str]:
        headers = {"Accept-Language": code}
        pages = [
            client.get(path, headers=headers).content.decode()
            for path in ("/", "/signup/", "/login/", "/how-it-works/")
        ]
        signup = pages[1]
        # A wrong answer, and an empty one: the field's two messages.
        data = signup_data(key_of(signup), "no", username="")
        pages.append(client.post("/signup/", data, headers=headers).content.decode())
        data = signup_data(key_of(pages[-1]), "")
        pages.append(client.post("/signup/", data, headers=headers).content.decode())
        return pages

    @pytest.fixture
    def english(self, client: Client) -> set[str]:
        texts: set[str] = set().union(*map(texts_of, self.pages(client, "en")))
        # The pages really say these in English (the comparison has teeth).
        for text in (
            "The four digits",
            "Wrong answer. Please try the new image.",
            "Please type the four digits shown in the image.",
            "Are you human?",
            "How it works",
        ):
            assert text in texts
        return texts

    @pytest.mark.parametrize("code", TRANSLATED)
    def test_nothing_left_in_english(
        self, client: Client, english: set[str], code: str
    ) -> None:
        locale = to_locale(code)
        pages = self.pages(client, code)
        left = set().union(*map(texts_of, pages)) & english
        left = {text for text in left if not same_allowed(locale, text)}
        assert not left, f"English left on the {code} pages: {sorted(left)}"
        signup = pages[1]
        bidi = get_language_info(code)["bidi"]
        html_tag = find_tag(signup, "html")
        assert html_tag["lang"] == code
        assert html_tag.get("dir") == ("rtl" if bidi else None)
        # No label suffix after a full-width or Arabic question mark or stop.
        assert not re.search(r"[\uff1f\u061f\uff01\u3002]\s*:", signup)
        # Audio only in the voices there are; the others hear English.
        src = find_tag(signup, "audio")["src"]
        assert src.endswith(f"?lang={audio.language_for(code)}")
        # The answer is typed left to right, even on a right-to-left page.
        assert 'dir="ltr"><input type="text" name="captcha_1"' in signup

    def test_spanish_page(self, client: Client) -> None:
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

    def test_arabic_page(self, client: Client) -> None:
        html = client.get(
            "/signup/", headers={"Accept-Language": "ar"}
        ).content.decode()
        assert '<html lang="ar" dir="rtl">' in html
        assert "<h1>إنشاء حساب</h1>" in html
        assert ">الأرقام الأربعة</label>" in html
        # No Arabic voice: the English one, and nothing on the page says otherwise.
        assert find_tag(html, "audio")["src"].endswith("/audio.wav?lang=en")

    def test_arabic_digits_sign_up(self, client: Client) -> None:
        headers = {"Accept-Language": "ar"}
        html = client.get("/signup/", headers=headers).content.decode()
        key = key_of(html)
        typed = answer_for(key).translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
        response = client.post("/signup/", signup_data(key, typed), headers=headers)
        assert response.status_code == 302, response.content.decode()

    def test_wrong_answer_in_spanish(self, client: Client) -> None:
        page = client.get("/signup/", headers={"Accept-Language": "es"})
        key = key_of(page.content.decode())
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
        options = find_tags(html, "option")
        assert [o["value"] for o in options] == EXPECTED_LANGUAGES
        assert [o["lang"] for o in options] == EXPECTED_LANGUAGES
        assert "selected" in find_tag(html, "option", value="en")
        for code in [*TRANSLATED, SOURCE_LANGUAGE]:
            response = client.post(
                "/i18n/setlang/", {"language": code, "next": "/signup/"}
            )
            assert response.status_code == 302
            assert response["Location"] == "/signup/"
            html = client.get("/signup/").content.decode()
            assert f'<html lang="{code}"' in html
            assert "selected" in find_tag(html, "option", value=code)
        assert '<html lang="en">' in html
