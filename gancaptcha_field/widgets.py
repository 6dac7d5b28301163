"""The CAPTCHA widget: a hidden key, the image, its audio, refresh and the answer."""

from __future__ import annotations

import functools
import html
import logging
from pathlib import Path
from typing import Any

from django import forms
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.forms.renderers import BaseRenderer, get_default_renderer
from django.templatetags.static import static
from django.utils import translation
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext_lazy as _

from gancaptcha_field import audio, challenges, constants, links, ratelimit
from gancaptcha_field import pow as proof_of_work
from gancaptcha_field.conf import conf
from gancaptcha_field.messages import (
    RATE_LIMITED,
    TRY_AGAIN_SHORTLY,
    UNAVAILABLE,
)
from gancaptcha_field.supply import throttle

__all__ = ["DEFAULT_TEMPLATE", "GanCaptchaWidget"]

logger = logging.getLogger(__name__)

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
_PACKAGED_TEMPLATE = Path(__file__).resolve().parent / "templates" / DEFAULT_TEMPLATE
# Template file names seen, and whether each is the packaged template.
_is_packaged: dict[str, bool] = {}


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
        """The refresh and audio script; the proof-of-work's with GANCAPTCHA_POW
        or the way through without reading."""
        js = ["gancaptcha_field/gancaptcha.js"]
        if conf.POW or self.offers_no_reading:
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
        """The widget's HTML: the template's, made in Python when it is ours.

        When the renderer finds the packaged template (not an override), the
        same HTML is made by _packaged_html(), several times faster than the
        template engine; a test pins the two to each other.
        """
        context = self.get_context(name, value, attrs)
        renderer = renderer or get_default_renderer()
        if _renders_packaged_template(renderer, self.template_name):
            return mark_safe(_packaged_html(context))
        # Django's Widget._render, which django-stubs does not declare.
        return self._render(self.template_name, context, renderer)  # type: ignore[attr-defined,no-any-return]

    def get_context(
        self, name: str, value: Any, attrs: dict[str, Any] | None
    ) -> dict[str, Any]:
        """Issue a new challenge; the one just submitted (if any) is used up.

        A HEAD request issues none (nobody will see it): the widget learns the
        method from RateLimitMiddleware, so without the middleware HEAD issues.
        """
        challenge, message = _issue_for_page()
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
            "key_input": _key_inputs(key_widget, key, name),
            "answer_input": _input_html(answer_widget),
            "ids": ids,
            **_image_sources(key),
            "audio_url": audio.audio_url(key) if key else "",
            "refresh_url": links.refresh_url(),
            "no_reading_url": (
                links.no_reading_url() if key and self.offers_no_reading else ""
            ),
            "no_reading_input": _input_html(
                {
                    "type": "hidden",
                    "name": f"{name}{NO_READING_SUFFIX}",
                    "value": "",
                    "attrs": {"data-gancaptcha-no-reading": True},
                }
            ),
            "worker_url": static("gancaptcha_field/pow-worker.js"),
            "width": size * constants.ANSWER_LENGTH,
            "height": size,
            **_TEXTS,
            "unavailable_message": message,
        }
        return context


def _issue_for_page() -> tuple[challenges.Issued | None, Any]:
    """A challenge for the page being rendered, or None and the text to show."""
    request = ratelimit.current_request()
    if request is not None and request.method == "HEAD":
        return None, UNAVAILABLE  # the body is never shown
    if ratelimit.hit(ratelimit.CREATE).limited:
        return None, RATE_LIMITED
    try:
        return challenges.create_challenge(), UNAVAILABLE
    except (throttle.DrawingBusy, challenges.PoolEmpty):
        return None, TRY_AGAIN_SHORTLY
    except challenges.CaptchaUnavailable:
        pass  # logged where it happened
    except Exception:  # the page must render even if the store fails
        logger.exception("GanCaptcha: could not issue a challenge")
    return None, UNAVAILABLE


# What _packaged_html() escapes per page; the texts it takes from _escaped_texts().
_CONTEXT_VALUES = (
    "key_input",
    "answer_input",
    "image_url",
    "image_2x_url",
    "audio_url",
    "refresh_url",
    "no_reading_url",
    "no_reading_input",
    "worker_url",
    "width",
    "height",
    "unavailable_message",
)


def _renders_packaged_template(renderer: BaseRenderer, template_name: str) -> bool:
    """True if the renderer would render our own widget.html for template_name."""
    if template_name != DEFAULT_TEMPLATE:
        return False
    try:
        # Cheap: the template loaders cache what they found.
        origin = renderer.get_template(template_name).template.origin.name
    except Exception:  # another backend, or not found: let _render() say so
        return False
    packaged = _is_packaged.get(origin)
    if packaged is None:
        packaged = _is_packaged[origin] = Path(origin).resolve() == _PACKAGED_TEMPLATE
    return packaged


def _esc(value: Any) -> str:
    """conditional_escape() without its lazy-string wrapper (same output)."""
    if hasattr(value, "__html__"):
        return str(value.__html__())
    return html.escape(str(value))


@functools.lru_cache(maxsize=128)
def _escaped_texts(language: str | None) -> dict[str, str]:
    # Called with ``language`` active: the texts come out in it.
    return {name: _esc(text) for name, text in _TEXTS.items()}


@receiver(setting_changed)
def _forget_texts(*, setting: str, **kwargs: Any) -> None:
    if setting in {"LANGUAGES", "LANGUAGE_CODE", "LOCALE_PATHS", "INSTALLED_APPS"}:
        _escaped_texts.cache_clear()


def _packaged_html(context: dict[str, Any]) -> str:
    """What gancaptcha_field/widget.html renders for this context (stripped)."""
    given = context["gancaptcha"]
    g = {
        **{name: _esc(given[name]) for name in _CONTEXT_VALUES},
        **_escaped_texts(translation.get_language()),
    }
    ids = {part: _esc(i) for part, i in given["ids"].items()}

    def id_attr(part: str) -> str:
        return f' id="{ids[part]}"' if ids else ""

    parts = [
        f'<div class="gancaptcha" data-gancaptcha data-refresh-url="{g["refresh_url"]}"'
        f' data-refreshed-message="{g["refreshed_message"]}"'
        f' data-unavailable-message="{g["unavailable_message"]}"'
        f' data-audio-error-message="{g["audio_error_message"]}">\n'
        f"  {g['key_input']}\n"
    ]
    if not given["available"]:
        parts.append(
            f'  <p class="gancaptcha-unavailable" role="alert">'
            f"{g['unavailable_message']}</p>\n</div>"
        )
        return "".join(parts)
    controls = f' aria-controls="{ids["audio"]}"' if ids else ""
    parts.append(
        f'  <div class="gancaptcha-picture">\n'
        f'    <img class="gancaptcha-image"{id_attr("image")} src="{g["image_url"]}"'
        f' srcset="{g["image_url"]} 1x, {g["image_2x_url"]} 2x"'
        f' width="{g["width"]}" height="{g["height"]}" alt="{g["alt"]}">\n'
        f"  </div>\n"
        f'  <div class="gancaptcha-controls">\n'
        f'    <a class="gancaptcha-reload" href="">{g["reload_label"]}</a>\n'
        f'    <button type="button" class="gancaptcha-refresh" hidden>'
        f"{g['refresh_label']}</button>\n"
        f'    <button type="button" class="gancaptcha-play" hidden{controls}>'
        f"{g['play_label']}</button>\n"
    )
    if given["no_reading_url"]:
        parts.append(
            f'    <button type="button" class="gancaptcha-no-reading" hidden'
            f' data-url="{g["no_reading_url"]}" data-worker="{g["worker_url"]}"'
            f' data-working-message="{g["no_reading_working"]}"'
            f' data-still-message="{g["no_reading_still"]}"'
            f' data-done-message="{g["no_reading_done"]}"'
            f' data-failed-message="{g["no_reading_failed"]}">'
            f"{g['no_reading_label']}</button>\n"
            f"    {g['no_reading_input']}\n"
        )
    parts.append(
        f"  </div>\n"
        f'  <audio class="gancaptcha-audio"{id_attr("audio")} src="{g["audio_url"]}"'
        f' controls preload="none" aria-label="{g["audio_label"]}">\n'
        f'    <a class="gancaptcha-audio-link" href="{g["audio_url"]}">'
        f"{g['download_label']}</a>\n"
        f"  </audio>\n"
    )
    answer_id = context["widget"]["subwidgets"][1]["attrs"].get("id")
    if answer_id:
        parts.append(
            f'  <label class="gancaptcha-label" for="{_esc(answer_id)}">'
            f"{g['label']}</label>\n"
            f'  <span dir="ltr">{g["answer_input"]}</span>\n'
        )
    else:
        parts.append(
            f'  <label class="gancaptcha-label">{g["label"]}'
            f' <span dir="ltr">{g["answer_input"]}</span></label>\n'
        )
    parts.append(
        f'  <p class="gancaptcha-hint"{id_attr("hint")}>{g["hint"]}</p>\n'
        f'  <p class="gancaptcha-status"{id_attr("status")} role="status"'
        f' aria-live="polite"></p>\n</div>'
    )
    return "".join(parts)


def _image_sources(key: str) -> dict[str, str]:
    """The img's src and 2x source: view URLs, or data: URIs (INLINE_IMAGE)."""
    if not key:
        return {"image_url": "", "image_2x_url": ""}
    if conf.INLINE_IMAGE:
        inline = challenges.data_uris(key)
        if inline is not None:
            return {"image_url": inline[0], "image_2x_url": inline[1]}
    return {"image_url": links.image_url(key), "image_2x_url": links.image_2x_url(key)}


def _key_inputs(key_widget: dict[str, Any], key: str, name: str) -> SafeString:
    """The hidden key, and with GANCAPTCHA_POW the puzzle's input beside it."""
    html = _input_html(key_widget)
    if not (key and conf.POW):
        return html
    puzzle = proof_of_work.puzzle_for(key)
    pow_input = {
        "type": "hidden",
        "name": f"{name}{POW_SUFFIX}",
        "value": "",
        "attrs": {
            "data-gancaptcha-pow": True,
            # Through the static storage: a hashed file name still resolves.
            "data-pow-worker": static("gancaptcha_field/pow-worker.js"),
            **{f"data-pow-{k}": v for k, v in puzzle.as_dict().items()},
        },
    }
    return mark_safe(f"{html}{_input_html(pow_input)}")


def _input_html(widget: dict[str, Any]) -> SafeString:
    """An <input> as django/forms/widgets/input.html renders it."""
    parts = [f'<input type="{_esc(widget["type"])}" name="{_esc(widget["name"])}"']
    if widget["value"] is not None:
        parts.append(f' value="{_esc(widget["value"])}"')
    for name, value in widget["attrs"].items():
        if value is True:
            parts.append(f" {_esc(name)}")
        elif value is not False and value is not None:
            parts.append(f' {_esc(name)}="{_esc(value)}"')
    parts.append(">")
    return mark_safe("".join(parts))
