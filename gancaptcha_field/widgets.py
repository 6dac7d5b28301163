"""The CAPTCHA widget: a hidden key, the image, its audio, refresh and the answer."""

from __future__ import annotations

import logging
from typing import Any

from django import forms
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext_lazy as _

from gancaptcha_field import audio, challenges, constants, links, ratelimit
from gancaptcha_field.conf import conf

UNAVAILABLE_MESSAGE = _("CAPTCHA temporarily unavailable. Please try again later.")

logger = logging.getLogger(__name__)


class GanCaptchaWidget(forms.MultiWidget):
    """Renders a fresh challenge every time, from an overridable template."""

    template_name = "gancaptcha_field/widget.html"

    class Media:
        js = ("gancaptcha_field/gancaptcha.js",)

    def __init__(
        self,
        attrs: dict[str, Any] | None = None,
        id_prefix: str | None = None,
        template_name: str | None = None,
    ) -> None:
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
        # Set it when one form class is rendered twice on a page without a form
        # prefix, so that the two widgets' ids differ.
        self.id_prefix = id_prefix
        if template_name is not None:
            self.template_name = template_name

    def decompress(self, value: Any) -> list[str]:
        """Nothing to split: a challenge is never re-shown."""
        return ["", ""]

    def get_context(
        self, name: str, value: Any, attrs: dict[str, Any] | None
    ) -> dict[str, Any]:
        """Issue a new challenge; the one just submitted (if any) is used up."""
        challenge: challenges.Issued | None = None
        limited = ratelimit.hit(ratelimit.CREATE).limited
        try:
            if not limited:
                challenge = challenges.create_challenge()
        except challenges.CaptchaUnavailable:
            pass  # logged where it happened
        except Exception:  # the page must render even if the store fails
            logger.exception("GanCaptcha: could not issue a challenge")
        key = challenge.key if challenge is not None else ""
        attrs = dict(attrs or {})
        # Django's error list for this field has the id "<auto_id>_error"
        # (auto_id before any prefix) and is shown only when there are errors.
        error_id = (
            f"{attrs['id']}_error"
            if attrs.get("id") and attrs.get("aria-invalid")
            else ""
        )
        if self.id_prefix and attrs.get("id"):
            attrs["id"] = f"{self.id_prefix}_{attrs['id']}"
        # Never echo the submitted answer back into the input.
        context = super().get_context(name, [key, ""], attrs)
        key_widget, answer_widget = context["widget"]["subwidgets"]
        # "required" and "aria-invalid" are for the answer, not a hidden input.
        key_widget["attrs"] = {
            k: v
            for k, v in key_widget["attrs"].items()
            if k not in {"required", "aria-invalid"}
        }
        base_id = context["widget"]["attrs"].get("id") or ""
        ids = (
            {part: f"{base_id}_{part}" for part in ("image", "audio", "hint", "status")}
            if base_id
            else {}
        )
        if ids:
            described_by = " ".join(filter(None, (error_id, ids["hint"])))
            answer_widget["attrs"] = {
                **answer_widget["attrs"],
                "aria-describedby": described_by,
            }
        size = constants.IMAGE_SIZE * conf.IMAGE_SCALE
        context["gancaptcha"] = {
            "available": challenge is not None,
            # The two subwidgets, rendered here rather than by {% include %}:
            # the same HTML as Django's input.html, at a tenth of the cost.
            "key_input": _input_html(key_widget),
            "answer_input": _input_html(answer_widget),
            "ids": ids,
            "image_url": (links.image_url(key) if key else ""),
            "image_2x_url": (links.image_2x_url(key) if key else ""),
            "audio_url": audio.audio_url(key) if key else "",
            "refresh_url": links.refresh_url(),
            "width": size * constants.ANSWER_LENGTH,
            "height": size,
            "alt": _(
                "Type the four digits shown in this image. Cannot see it? Listen "
                "to the audio version below."
            ),
            "label": _("The four digits"),
            "hint": _(
                "Type the four digits you see in the image or hear in the audio."
            ),
            "refresh_label": _("New image"),
            "reload_label": _("New image (reloads the page)"),
            "play_label": _("Play the digits"),
            "audio_label": _("The digits, spoken"),
            "download_label": _("Download the digits as audio"),
            "refreshed_message": _("New image loaded."),
            "audio_error_message": _(
                "The audio could not be played. Please get a new image."
            ),
            "unavailable_message": (
                ratelimit.RATE_LIMITED_MESSAGE if limited else UNAVAILABLE_MESSAGE
            ),
        }
        return context


def _input_html(widget: dict[str, Any]) -> SafeString:
    """An <input> as django/forms/widgets/input.html renders it."""
    html = [format_html('<input type="{}" name="{}"', widget["type"], widget["name"])]
    if widget["value"] is not None:
        html.append(format_html(' value="{}"', widget["value"]))
    for name, value in widget["attrs"].items():
        if value is True:
            html.append(format_html(" {}", name))
        elif value is not False and value is not None:
            html.append(format_html(' {}="{}"', name, value))
    html.append(">")
    return mark_safe("".join(html))
