from __future__ import annotations

import pytest
from pytest_django import Settings

from django import forms
from django.urls import reverse

from gancaptcha_field import challenges
from gancaptcha_field.fields import GanCaptchaField
from gancaptcha_field.models import Challenge
from tests.utils import BrokenRegistry, find_tag, find_tags

pytestmark = [pytest.mark.usefixtures("captcha_models"), pytest.mark.django_db]

ALT = "Type the four digits shown in the image"


class CaptchaForm(forms.Form):
    captcha = GanCaptchaField()


def rendered_key(html: str) -> str:
    key = find_tag(html, "input", name="captcha_0")["value"]
    assert key
    return key


def test_answer_input_attributes() -> None:
    html = str(CaptchaForm()["captcha"])
    answer = find_tag(html, "input", name="captcha_1")
    assert answer["type"] == "text"
    assert answer["inputmode"] == "numeric"
    assert answer["autocomplete"] == "off"
    assert answer["maxlength"] == "4"
    assert answer["id"] == "id_captcha_1"
    assert "pattern" not in answer
    assert "required" in answer
    assert "value" not in answer


def test_label_is_tied_to_the_answer_input() -> None:
    html = str(CaptchaForm()["captcha"])
    label = find_tag(html, "label", **{"for": "id_captcha_1"})
    assert label is not None


def test_label_wraps_the_input_without_ids() -> None:
    html = CaptchaForm(auto_id=False).as_div()
    assert "id" not in find_tag(html, "input", name="captcha_1")
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
    assert image["src"] == reverse("gancaptcha:image", kwargs={"key": key})
    assert image["alt"] == ALT
    assert image["width"] == str(4 * 28 * scale)
    assert image["height"] == str(28 * scale)


def test_refresh_button_and_script() -> None:
    form = CaptchaForm()
    html = str(form["captcha"])
    button = find_tag(html, "button")
    assert button["type"] == "button"
    # Hidden until the script shows it: without JS it could do nothing.
    assert "hidden" in button
    root = find_tag(html, "div", **{"class": "gancaptcha"})
    assert root["data-refresh-url"] == reverse("gancaptcha:refresh")
    assert "gancaptcha_field/gancaptcha.js" in str(form.media)


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


def test_unavailable_models_show_a_message(
    broken_registry: BrokenRegistry,
) -> None:
    html = str(CaptchaForm()["captcha"])
    alert = find_tag(html, "p", role="alert")
    assert alert is not None
    assert "CAPTCHA temporarily unavailable. Please try again later." in html
    assert find_tags(html, "img") == []
    assert find_tags(html, "input", name="captcha_1") == []
    assert not find_tag(html, "input", name="captcha_0").get("value")
