from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from pytest_django import Settings

from django import forms
from django.forms.renderers import DjangoTemplates
from django.test import Client
from django.urls import reverse

from gancaptcha_field import challenges
from gancaptcha_field.fields import GanCaptchaField
from gancaptcha_field.models import Challenge
from gancaptcha_field.testing import answer_for
from gancaptcha_field.widgets import GanCaptchaWidget
from tests.utils import BrokenRegistry, Clock, find_tag, find_tags

pytestmark = [pytest.mark.usefixtures("captcha_models"), pytest.mark.django_db]

ALT = (
    "Type the four digits shown in this image. Cannot see it? Listen to the audio "
    "version below."
)
HINT = "Type the four digits you see in the image or hear in the audio."


class CaptchaForm(forms.Form):
    captcha = GanCaptchaField()


class LoginForm(forms.Form):
    """A second form with a field of the same name, as on a page with two."""

    captcha = GanCaptchaField(widget=GanCaptchaWidget(id_prefix="login"))


def rendered_key(html: str) -> str:
    key = find_tag(html, "input", name="captcha_0")["value"]
    assert key
    return key


def captcha_widget_of(
    form: forms.Form,
) -> tuple[forms.BoundField, GanCaptchaWidget, dict[str, object]]:
    """The captcha field, its widget and the attrs BoundField.as_widget() gives it."""
    if form.is_bound:
        assert not form.is_valid()
    field = form["captcha"]
    attrs = field.build_widget_attrs({})
    if field.errors:
        attrs["aria-invalid"] = "true"
    if field.auto_id:
        attrs["id"] = field.auto_id
    return field, field.field.widget, attrs


def ids_in(html: str) -> list[str]:
    return [
        attrs["id"]
        for tag in ("input", "img", "audio", "p", "label", "div", "ul", "button")
        for attrs in find_tags(html, tag)
        if attrs.get("id")
    ]


def test_answer_input_attributes() -> None:
    html = str(CaptchaForm()["captcha"])
    answer = find_tag(html, "input", name="captcha_1")
    assert answer["type"] == "text"
    assert answer["inputmode"] == "numeric"
    assert answer["autocomplete"] == "off"
    assert answer["maxlength"] == "4"
    assert answer["id"] == "id_captcha_1"
    assert answer["aria-describedby"] == "id_captcha_hint"
    assert "pattern" not in answer
    assert "required" in answer
    assert "value" not in answer
    assert "aria-invalid" not in answer


def test_label_and_hint_are_tied_to_the_answer_input() -> None:
    html = str(CaptchaForm()["captcha"])
    assert find_tag(html, "label", **{"for": "id_captcha_1"}) is not None
    hint = find_tag(html, "p", id="id_captcha_hint")
    assert hint["class"] == "gancaptcha-hint"
    assert HINT in html


def test_errors_are_linked_with_aria_describedby() -> None:
    old = challenges._create_with_answer("1234")
    form = CaptchaForm(data={"captcha_0": old.key, "captcha_1": "9999"})
    assert not form.is_valid()
    html = form.as_div()
    answer = find_tag(html, "input", name="captcha_1")
    assert answer["aria-invalid"] == "true"
    assert answer["aria-describedby"] == "id_captcha_error id_captcha_hint"
    # Both ids exist on the page: Django's error list and the widget's hint.
    errors = find_tag(html, "ul", id="id_captcha_error")
    assert errors["class"] == "errorlist"
    assert find_tag(html, "p", id="id_captcha_hint")
    assert "aria-invalid" not in find_tag(html, "input", name="captcha_0")


def test_label_wraps_the_input_without_ids() -> None:
    html = CaptchaForm(auto_id=False).as_div()
    assert "id" not in find_tag(html, "input", name="captcha_1")
    assert "aria-describedby" not in find_tag(html, "input", name="captcha_1")
    assert '<label class="gancaptcha-label">' in html
    label_start = html.index('<label class="gancaptcha-label">')
    assert html.index('name="captcha_1"', label_start) < html.index(
        "</label>", label_start
    )


def test_hidden_key_is_a_live_challenge() -> None:
    html = str(CaptchaForm()["captcha"])
    key_input = find_tag(html, "input", name="captcha_0")
    assert key_input["type"] == "hidden"
    assert "required" not in key_input
    assert challenges.get_png(rendered_key(html)) is not None


@pytest.mark.parametrize("scale", [1, 2, 3])
def test_image_markup(settings: Settings, scale: int) -> None:
    settings.GANCAPTCHA_IMAGE_SCALE = scale
    html = str(CaptchaForm()["captcha"])
    key = rendered_key(html)
    image = find_tag(html, "img")
    src = reverse("gancaptcha:image", kwargs={"key": key})
    src_2x = reverse("gancaptcha:image_2x", kwargs={"key": key})
    assert image["src"] == src
    assert image["srcset"] == f"{src} 1x, {src_2x} 2x"
    assert src_2x == f"/gancaptcha/{key}/image@2x.png"
    assert image["alt"] == ALT
    assert image["id"] == "id_captcha_image"
    assert image["width"] == str(4 * 28 * scale)
    assert image["height"] == str(28 * scale)


def test_hidpi_image_is_twice_the_pixels(client: Client, settings: Settings) -> None:
    settings.GANCAPTCHA_IMAGE_SCALE = 2
    image = find_tag(str(CaptchaForm()["captcha"]), "img")
    sizes = []
    for candidate in image["srcset"].split(", "):
        url, density = candidate.split(" ")
        response = client.get(url)
        assert response.status_code == 200
        assert response["Content-Type"] == "image/png"
        assert response["Cache-Control"] == "no-store"
        with Image.open(io.BytesIO(response.content)) as png:
            sizes.append((density, png.size))
    assert sizes == [("1x", (224, 56)), ("2x", (448, 112))]


def test_hidpi_image_of_a_dead_key_is_gone(
    client: Client, clock: Clock, settings: Settings
) -> None:
    settings.GANCAPTCHA_TIMEOUT = 60
    used = challenges._create_with_answer("1234")
    expired = challenges._create_with_answer("5678")
    challenges.attempt(used.key, "1234")
    clock.advance(61)
    for key in (used.key, expired.key, "neverissued0000000000000000000000"):
        response = client.get(reverse("gancaptcha:image_2x", kwargs={"key": key}))
        assert response.status_code == 410
        assert response["Cache-Control"] == "no-store"


def test_hidpi_image_falls_back_to_1x_for_rows_without_one(client: Client) -> None:
    challenge = challenges._create_with_answer("1234")
    Challenge.objects.filter(key=challenge.key).update(png_2x=b"")
    response = client.get(reverse("gancaptcha:image_2x", kwargs={"key": challenge.key}))
    assert response.status_code == 200
    assert response.content == challenges.get_png(challenge.key)


def test_refresh_button_reload_link_and_script() -> None:
    form = CaptchaForm()
    html = str(form["captcha"])
    refresh = find_tag(html, "button", **{"class": "gancaptcha-refresh"})
    assert refresh["type"] == "button"
    # Hidden until the script shows it; without JS, the link reloads the page.
    assert "hidden" in refresh
    reload_link = find_tag(html, "a", **{"class": "gancaptcha-reload"})
    assert reload_link["href"] == ""
    assert "hidden" not in reload_link
    root = find_tag(html, "div", **{"class": "gancaptcha"})
    assert root["data-refresh-url"] == reverse("gancaptcha:refresh")
    assert root["data-refreshed-message"] == "New image loaded."
    status = find_tag(html, "p", role="status")
    assert status["aria-live"] == "polite"
    assert status["id"] == "id_captcha_status"
    assert "gancaptcha_field/gancaptcha.js" in str(form.media)


def test_audio_element_and_play_button() -> None:
    html = str(CaptchaForm()["captcha"])
    key = rendered_key(html)
    player = find_tag(html, "audio")
    url = f"/gancaptcha/{key}/audio.wav?lang=en"
    assert player["src"] == url
    assert player["id"] == "id_captcha_audio"
    # Works without JS (the browser's controls), and fetches nothing until
    # someone asks for it.
    assert "controls" in player
    assert player["preload"] == "none"
    assert find_tag(html, "a", **{"class": "gancaptcha-audio-link"})["href"] == url
    play = find_tag(html, "button", **{"class": "gancaptcha-play"})
    assert play["type"] == "button"
    assert play["aria-controls"] == "id_captcha_audio"
    assert "hidden" in play


def test_each_render_issues_a_new_challenge() -> None:
    form = CaptchaForm()
    first, second = str(form["captcha"]), str(form["captcha"])
    assert rendered_key(first) != rendered_key(second)
    assert Challenge.objects.count() == 2


def test_bound_form_rerenders_with_a_new_challenge() -> None:
    old = challenges._create_with_answer("1234")
    form = CaptchaForm(data={"captcha_0": old.key, "captcha_1": "9999"})
    assert not form.is_valid()
    html = form.as_div()
    new_key = rendered_key(html)
    assert new_key != old.key
    assert challenges.get_png(new_key) is not None
    assert "value" not in find_tag(html, "input", name="captcha_1")
    assert "Wrong answer. Please try the new image." in html


def test_fieldset_groups_the_widget() -> None:
    html = CaptchaForm().as_div()
    assert "<fieldset>" in html
    assert "<legend>Captcha:</legend>" in html


def test_two_captchas_on_one_page_have_distinct_ids() -> None:
    page = CaptchaForm().as_div() + LoginForm().as_div()
    ids = ids_in(page)
    assert len(ids) == len(set(ids)), sorted(ids)
    assert "login_id_captcha_1" in ids
    # Each label, aria-describedby and aria-controls points at an element
    # that exists, and each widget's at its own.
    for label in find_tags(page, "label", **{"class": "gancaptcha-label"}):
        assert label["for"] in ids
    for answer in find_tags(page, "input", **{"class": "gancaptcha-answer"}):
        prefix = answer["id"].removesuffix("_1")
        assert answer["aria-describedby"] == f"{prefix}_hint"
        assert f"{prefix}_hint" in ids
    assert [
        b["aria-controls"]
        for b in find_tags(page, "button", type="button")
        if "aria-controls" in b
    ] == [
        "id_captcha_audio",
        "login_id_captcha_audio",
    ]
    keys = [
        attrs["value"]
        for attrs in find_tags(page, "input", type="hidden")
        if attrs["name"].endswith("_0")
    ]
    assert len(keys) == 2 and keys[0] != keys[1]


def test_two_captchas_on_one_page_are_each_verified() -> None:
    page = CaptchaForm().as_div() + LoginForm().as_div()
    first, second = (
        a["value"]
        for a in find_tags(page, "input", type="hidden")
        if a["name"].endswith("_0")
    )
    answers = {k: answer_for(k) for k in (first, second)}
    signup = CaptchaForm(data={"captcha_0": first, "captcha_1": answers[first]})
    # Each form verifies its own challenge: the other one's answer fails.
    login = LoginForm(data={"captcha_0": second, "captcha_1": answers[first]})
    assert signup.is_valid()
    assert not login.is_valid()


def test_template_can_be_overridden_from_a_template_dir(
    settings: Settings, tmp_path: Path
) -> None:
    override = tmp_path / "gancaptcha_field" / "widget.html"
    override.parent.mkdir()
    override.write_text(
        '<div class="my-captcha">{% for w in widget.subwidgets %}'
        "{% include w.template_name with widget=w %}{% endfor %}"
        '<img src="{{ gancaptcha.image_url }}" alt="{{ gancaptcha.alt }}"></div>'
    )
    settings.TEMPLATES = [
        {**settings.TEMPLATES[0], "DIRS": [str(tmp_path)]},
    ]
    # The default form renderer reads only app templates; this one reads DIRS
    # (and finds Django's own widget templates through "django.forms").
    settings.FORM_RENDERER = "django.forms.renderers.TemplatesSetting"
    settings.INSTALLED_APPS = [*settings.INSTALLED_APPS, "django.forms"]
    html = str(CaptchaForm()["captcha"])
    assert find_tag(html, "div", **{"class": "my-captcha"})
    assert find_tags(html, "audio") == []
    key = rendered_key(html)
    assert find_tag(html, "img")["src"] == f"/gancaptcha/{key}/image.png"
    # The override still gets a working challenge.
    form = CaptchaForm(data={"captcha_0": key, "captcha_1": answer_for(key)})
    assert form.is_valid()


def test_template_can_be_chosen_per_widget(tmp_path: Path, settings: Settings) -> None:
    (tmp_path / "compact.html").write_text(
        '<span class="compact">{{ gancaptcha.label }}</span>'
    )
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [str(tmp_path)]}]
    settings.FORM_RENDERER = "django.forms.renderers.TemplatesSetting"

    class CompactForm(forms.Form):
        captcha = GanCaptchaField(widget=GanCaptchaWidget(template_name="compact.html"))

    html = str(CompactForm()["captcha"])
    assert html == '<span class="compact">The four digits</span>'


def test_unavailable_models_show_a_message(
    broken_registry: BrokenRegistry,
) -> None:
    html = str(CaptchaForm()["captcha"])
    alert = find_tag(html, "p", role="alert")
    assert alert is not None
    assert "CAPTCHA temporarily unavailable. Please try again later." in html
    assert find_tags(html, "img") == []
    assert find_tags(html, "audio") == []
    assert find_tags(html, "input", name="captcha_1") == []
    assert not find_tag(html, "input", name="captcha_0").get("value")


@pytest.mark.parametrize(
    ("form", "answer_attrs"),
    [
        (CaptchaForm(), ['id="id_captcha_1"']),
        (
            CaptchaForm(data={"captcha_0": "x", "captcha_1": "1"}),
            [
                'aria-invalid="true"',
                'aria-describedby="id_captcha_error id_captcha_hint"',
            ],
        ),
        (CaptchaForm(auto_id=False), []),
        (LoginForm(), ['id="login_id_captcha_1"']),
    ],
    ids=["fresh", "with-errors", "no-ids", "id-prefix"],
)
def test_inputs_render_as_django_input_template(
    form: forms.Form, answer_attrs: list[str]
) -> None:
    # key_input and answer_input (for templates that place the inputs whole)
    # are what Django's own input.html makes of the subwidgets.
    field, widget, attrs = captcha_widget_of(form)
    context = widget.get_context(field.html_name, None, attrs)
    key_widget, answer_widget = context["widget"]["subwidgets"]
    key_input = str(context["gancaptcha"]["key_input"])
    answer_input = str(context["gancaptcha"]["answer_input"])
    for subwidget, ours in ((key_widget, key_input), (answer_widget, answer_input)):
        django_html = widget._render(subwidget["template_name"], {"widget": subwidget})
        assert ours == django_html.strip()
    assert key_input.startswith('<input type="hidden" name="captcha_0" value="')
    for attr in answer_attrs:
        assert attr in answer_input


class RecordingRenderer(DjangoTemplates):
    """The default form renderer, noting every template it renders."""

    rendered: list[str] = []

    def render(
        self, template_name: str, context: dict[str, Any], request: Any = None
    ) -> str:
        self.rendered.append(template_name)
        return super().render(template_name, context, request)


def test_the_widget_renders_through_the_form_renderer(settings: Settings) -> None:
    # FORM_RENDERER decides: every part of the widget, its inputs included,
    # is rendered by it (there is no second way to make the HTML).
    settings.FORM_RENDERER = "tests.test_widgets.RecordingRenderer"
    RecordingRenderer.rendered.clear()
    html = str(CaptchaForm()["captcha"])
    assert RecordingRenderer.rendered == [
        "gancaptcha_field/widget.html",
        "django/forms/widgets/hidden.html",
        "django/forms/widgets/hidden.html",  # the no-reading solution's input
        "django/forms/widgets/text.html",
    ]
    assert find_tag(html, "div", **{"class": "gancaptcha"}) is not None


@pytest.mark.parametrize("auto_id", ["id_%s", False])
def test_the_rendered_html(auto_id: str | bool) -> None:
    # What the packaged template must render: one test of the whole widget.
    html = str(CaptchaForm(auto_id=auto_id)["captcha"])
    key = rendered_key(html)
    ids = {
        part: f"id_captcha_{part}" if auto_id else None
        for part in ("image", "audio", "hint", "status")
    }
    root = find_tag(html, "div", **{"class": "gancaptcha"})
    assert "data-gancaptcha" in root
    assert root["data-refresh-url"] == "/gancaptcha/refresh/"
    assert root["data-refreshed-message"] == "New image loaded."
    assert root["data-unavailable-message"] == (
        "CAPTCHA temporarily unavailable. Please try again later."
    )
    assert root["data-audio-error-message"] == (
        "The audio could not be played. Please get a new image."
    )
    image = find_tag(html, "img", **{"class": "gancaptcha-image"})
    assert image.get("id") == ids["image"]
    assert image["src"] == f"/gancaptcha/{key}/image.png"
    assert image["alt"] == ALT
    assert find_tag(html, "a", **{"class": "gancaptcha-reload"})["href"] == ""
    play = find_tag(html, "button", **{"class": "gancaptcha-play"})
    assert play.get("aria-controls") == ids["audio"]
    no_reading = find_tag(html, "button", **{"class": "gancaptcha-no-reading"})
    assert no_reading["data-url"] == "/gancaptcha/no-reading/"
    assert no_reading["data-worker"].endswith("gancaptcha_field/pow-worker.js")
    assert no_reading["data-working-message"].startswith("Verifying without reading.")
    assert no_reading["data-still-message"] == "Still verifying. Please wait."
    assert no_reading["data-done-message"].startswith("Verified.")
    assert no_reading["data-failed-message"].endswith("Please type the digits.")
    solved = find_tag(html, "input", name="captcha_no_reading")
    assert solved["type"] == "hidden"
    assert solved["value"] == ""
    assert "data-gancaptcha-no-reading" in solved
    assert find_tag(html, "audio").get("id") == ids["audio"]
    hint = find_tag(html, "p", **{"class": "gancaptcha-hint"})
    assert hint.get("id") == ids["hint"]
    status = find_tag(html, "p", **{"class": "gancaptcha-status"})
    assert status.get("id") == ids["status"]
    assert (status["role"], status["aria-live"]) == ("status", "polite")
    assert '<span dir="ltr"><input type="text" name="captcha_1"' in html
    assert find_tags(html, "p", role="alert") == []


def test_an_app_template_override_wins(settings: Settings) -> None:
    from django.forms.renderers import DjangoTemplates

    # An app above ours with its own gancaptcha_field/widget.html (the way the
    # docs/field.md describes) wins over the packaged one.
    settings.INSTALLED_APPS = ["tests.override_app", *settings.INSTALLED_APPS]
    renderer = DjangoTemplates()
    html = str(CaptchaForm(renderer=renderer)["captcha"])
    assert find_tag(html, "div", **{"class": "app-override"}) is not None
    # Its key_input and answer_input are the inputs, rendered.
    assert rendered_key(html)
    assert find_tag(html, "input", name="captcha_1")["type"] == "text"


@pytest.mark.django_db
def test_inline_image_puts_both_pngs_in_the_page(settings: Settings) -> None:
    settings.GANCAPTCHA_INLINE_IMAGE = True
    html = Client().get("/signup/").content.decode()
    img = find_tag(html, "img", **{"class": "gancaptcha-image"})
    key = find_tag(html, "input", name="captcha_0")["value"]
    assert img["src"].startswith("data:image/png;base64,")
    assert base64.b64decode(img["src"].split(",", 1)[1]) == challenges.get_png(key)
    one, two = (part.rsplit(" ", 1) for part in img["srcset"].split(", "))
    assert one == [img["src"], "1x"]
    assert two[1] == "2x"
    png_2x = base64.b64decode(two[0].split(",", 1)[1])
    assert png_2x == challenges.get_png(key, hidpi=True)
    # HiDPI stays sharp: the 2x image has twice the pixels each way.
    small, large = (
        Image.open(io.BytesIO(p)).size for p in (challenges.get_png(key), png_2x)
    )
    assert large == (2 * small[0], 2 * small[1])


@pytest.mark.django_db
def test_inline_image_in_the_refresh_json(settings: Settings) -> None:
    settings.GANCAPTCHA_INLINE_IMAGE = True
    body = Client().post("/gancaptcha/refresh/").json()
    assert body["image_data_uri"].startswith("data:image/png;base64,")
    assert body["image_2x_data_uri"].startswith("data:image/png;base64,")
    assert body["image_url"].endswith(".png")  # still there for other clients


@pytest.mark.django_db
def test_without_inline_image_the_page_links_the_view(settings: Settings) -> None:
    html = Client().get("/signup/").content.decode()
    img = find_tag(html, "img", **{"class": "gancaptcha-image"})
    assert img["src"].startswith("/gancaptcha/")
    assert "image_data_uri" not in Client().post("/gancaptcha/refresh/").json()
