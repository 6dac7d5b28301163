"""The CAPTCHA widget: a hidden key, the image, a refresh button and the answer."""

from __future__ import annotations

from typing import Any

from django import forms
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from gancaptcha_field import challenges, constants
from gancaptcha_field.conf import conf
from gancaptcha_field.models import Challenge

UNAVAILABLE_MESSAGE = _("CAPTCHA temporarily unavailable. Please try again later.")


class GanCaptchaWidget(forms.MultiWidget):
    """Renders a fresh challenge every time, from an overridable template."""

    template_name = "gancaptcha_field/widget.html"

    class Media:
        js = ("gancaptcha_field/gancaptcha.js",)

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        answer_attrs = {
            "class": "gancaptcha-answer",
            "inputmode": "numeric",
            "autocomplete": "off",
            "autocapitalize": "off",
            "spellcheck": "false",
            "maxlength": str(constants.ANSWER_LENGTH),
            "size": str(constants.ANSWER_LENGTH + 2),
        }
        super().__init__((forms.HiddenInput(), forms.TextInput(answer_attrs)), attrs)

    def decompress(self, value: Any) -> list[str]:
        """Nothing to split: a challenge is never re-shown."""
        return ["", ""]

    def get_context(
        self, name: str, value: Any, attrs: dict[str, Any] | None
    ) -> dict[str, Any]:
        """Issue a new challenge; the one just submitted (if any) is used up."""
        try:
            challenge: Challenge | None = challenges.create_challenge()
        except challenges.CaptchaUnavailable:
            challenge = None
        key = challenge.key if challenge is not None else ""
        # Never echo the submitted answer back into the input.
        context = super().get_context(name, [key, ""], attrs)
        key_widget = context["widget"]["subwidgets"][0]
        # "required" is for the answer; on a hidden input it is invalid HTML.
        key_widget["attrs"] = {
            k: v for k, v in key_widget["attrs"].items() if k != "required"
        }
        size = constants.IMAGE_SIZE * conf.IMAGE_SCALE
        context["gancaptcha"] = {
            "available": challenge is not None,
            "image_url": (
                reverse("gancaptcha:image", kwargs={"key": key}) if key else ""
            ),
            "refresh_url": reverse("gancaptcha:refresh"),
            "width": size * constants.ANSWER_LENGTH,
            "height": size,
            "alt": _("Type the four digits shown in the image"),
            "label": _("The four digits"),
            "refresh_label": _("New image"),
            "refreshed_message": _("New image loaded."),
            "unavailable_message": UNAVAILABLE_MESSAGE,
        }
        return context
