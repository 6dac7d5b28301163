"""The CAPTCHA widget: a hidden key, the image, its audio, refresh and the answer."""

from __future__ import annotations

from typing import Any

from django import forms
from django.forms.renderers import BaseRenderer, get_default_renderer
from django.templatetags.static import static
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext_lazy as _

from gancaptcha_field import audio, challenges, constants, issuing, links
from gancaptcha_field.conf import conf
from gancaptcha_field.messages import UNAVAILABLE

__all__ = ["DEFAULT_TEMPLATE", "GanCaptchaWidget"]

# The widget's fixed texts, by their names in the template's context.
_TEXTS = {
    "alt": _(
        "Type the four digits shown in this image. Cannot see it? Listen "
        "to the audio version below."
    ),
    "label": _("The four digits"),
    "hint": _("Type the four digits you see in the image or hear in the audio."),
    "refresh_label": _("New image"),
    "reload_label": _("New image (reloads the page)"),
    "play_label": _("Play the digits"),
    "audio_label": _("The digits, spoken"),
    "download_label": _("Download the digits as audio"),
    "refreshed_message": _("New image loaded."),
    "audio_error_message": _("The audio could not be played. Please get a new image."),
    "no_reading_label": _("Verify without reading"),
    "no_reading_working": _(
        "Verifying without reading. Your browser is working; this takes a few seconds."
    ),
    "no_reading_still": _("Still verifying. Please wait."),
    "no_reading_done": _("Verified. You can send the form without typing the digits."),
    "no_reading_failed": _(
        "Verifying without reading did not work here. Please type the digits."
    ),
}

DEFAULT_TEMPLATE = "gancaptcha_field/widget.html"
# The proof-of-work input's name: the field's name and this.
POW_SUFFIX = "_pow"
# The solved no-reading puzzle's input: the field's name and this.
NO_READING_SUFFIX = "_no_reading"
_HIDDEN_TEMPLATE = "django/forms/widgets/hidden.html"


class GanCaptchaWidget(forms.MultiWidget):
    """Renders a fresh challenge every time, from an overridable template."""

    template_name = DEFAULT_TEMPLATE

    # None: GANCAPTCHA_NO_READING decides; the field sets it (no_reading=).
    no_reading: bool | None = None

    @property
    def offers_no_reading(self) -> bool:
        """True when this widget shows the way through without reading."""
        return conf.NO_READING if self.no_reading is None else self.no_reading

    @property
    def media(self) -> forms.Media:
        """The refresh and audio script; the proof-of-work's with
        GANCAPTCHA_POW["answers"] or the way through without reading."""
        js = ["gancaptcha_field/gancaptcha.js"]
        if conf.POW["answers"] or self.offers_no_reading:
            js.append("gancaptcha_field/gancaptcha-pow.js")
        return forms.Media(js=js)

    def value_from_datadict(self, data: Any, files: Any, name: str) -> list[Any]:
        """[key, answer, proof-of-work or None, no-reading solution or None]."""
        value: list[Any] = super().value_from_datadict(data, files, name)
        value.append(data.get(f"{name}{POW_SUFFIX}"))
        value.append(data.get(f"{name}{NO_READING_SUFFIX}"))
        return value

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

    def render(
        self,
        name: str,
        value: Any,
        attrs: dict[str, Any] | None = None,
        renderer: BaseRenderer | None = None,
    ) -> SafeString:
        """The template's HTML, through the form renderer (FORM_RENDERER)."""
        renderer = renderer or get_default_renderer()
        context = self.get_context(name, value, attrs)
        for inputs in context["gancaptcha"].values():
            if isinstance(inputs, _Inputs):
                inputs.renderer = renderer
        # Django's Widget._render, which django-stubs does not declare.
        return self._render(self.template_name, context, renderer)  # type: ignore[attr-defined,no-any-return]

    def get_context(
        self, name: str, value: Any, attrs: dict[str, Any] | None
    ) -> dict[str, Any]:
        """Issue a new challenge; the one just submitted (if any) is used up.

        A HEAD request issues none (nobody will see it): the widget learns the
        method from RateLimitMiddleware, so without the middleware HEAD issues.
        """
        outcome = issuing.issue_for(None)
        key = outcome.key if isinstance(outcome, issuing.Issued) else ""
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
        worker_url = static("gancaptcha_field/pow-worker.js")
        puzzle = issuing.puzzle(key) if key else None
        key_inputs = [key_widget]
        if puzzle is not None:
            key_inputs.append(
                _hidden(
                    f"{name}{POW_SUFFIX}",
                    {
                        "data-gancaptcha-pow": True,
                        # Through the static storage: a hashed name still resolves.
                        "data-pow-worker": worker_url,
                        **{f"data-pow-{k}": v for k, v in puzzle.items()},
                    },
                )
            )
        context["gancaptcha"] = {
            "available": bool(key),
            # The subwidgets as the form renderer renders them, for templates
            # that place them whole; with GANCAPTCHA_POW["answers"] the puzzle's input
            # goes with the key.
            "key_input": _Inputs(key_inputs),
            "answer_input": _Inputs([answer_widget]),
            "pow": puzzle,
            "ids": ids,
            **_image_sources(key),
            "audio_url": audio.audio_url(key) if key else "",
            "refresh_url": links.refresh_url(),
            "no_reading_url": (
                links.no_reading_url() if key and self.offers_no_reading else ""
            ),
            "no_reading_input": _Inputs(
                [
                    _hidden(
                        f"{name}{NO_READING_SUFFIX}",
                        {"data-gancaptcha-no-reading": True},
                    )
                ]
            ),
            "worker_url": worker_url,
            "width": size * constants.ANSWER_LENGTH,
            "height": size,
            **_TEXTS,
            "unavailable_message": (
                outcome.message if isinstance(outcome, issuing.Refusal) else UNAVAILABLE
            ),
        }
        return context


def _image_sources(key: str) -> dict[str, str]:
    """The img's src and 2x source: view URLs, or data: URIs (INLINE_IMAGE)."""
    if not key:
        return {"image_url": "", "image_2x_url": ""}
    if conf.INLINE_IMAGE:
        inline = challenges.data_uris(key)
        if inline is not None:
            return {"image_url": inline[0], "image_2x_url": inline[1]}
    return {"image_url": links.image_url(key), "image_2x_url": links.image_2x_url(key)}


def _hidden(name: str, attrs: dict[str, Any]) -> dict[str, Any]:
    """A hidden input's widget context, as HiddenInput.get_context() makes it."""
    return {
        "name": name,
        "is_hidden": True,
        "required": False,
        "value": "",
        "attrs": attrs,
        "template_name": _HIDDEN_TEMPLATE,
        "type": "hidden",
    }


class _Inputs:
    """Inputs rendered by the form renderer when a template shows them.

    Lazy: a template that places the subwidgets itself (or none) costs nothing
    here. render() hands over its renderer; the default renderer otherwise.
    """

    def __init__(self, widgets: list[dict[str, Any]]) -> None:
        self.widgets = widgets
        self.renderer: BaseRenderer | None = None

    def __html__(self) -> SafeString:
        renderer = self.renderer or get_default_renderer()
        return mark_safe(
            "".join(
                renderer.render(w["template_name"], {"widget": w}).strip()
                for w in self.widgets
            )
        )

    __str__ = __html__
