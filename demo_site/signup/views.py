"""Home, signup, welcome and "how it works" pages."""

from __future__ import annotations

import base64
import logging
import secrets
from typing import Any

from django.contrib.auth import login
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from demo_site.signup.forms import SignupForm
from gancaptcha_field import artifacts, constants
from gancaptcha_field.conf import conf
from gancaptcha_field.supply import registry
from gancaptcha_field.supply.render import compose_png
from gancaptcha_field.supply.source import current_source

logger = logging.getLogger(__name__)

DEMO_DIGIT_SCALE = 3


def home(request: HttpRequest) -> HttpResponse:
    """A landing page that links to the signup form."""
    return render(request, "signup/home.html")


def signup(request: HttpRequest) -> HttpResponse:
    """Create an account once the form, CAPTCHA included, validates."""
    if request.method == "POST":
        form = SignupForm(request.POST)
        if form.is_valid():
            user = form.save()
            login(request, user)
            return redirect("signup:welcome")
    else:
        form = SignupForm()
    return render(request, "signup/signup.html", {"form": form})


def welcome(request: HttpRequest) -> HttpResponse:
    """Where a successful signup lands."""
    return render(request, "signup/welcome.html")


def how_it_works(request: HttpRequest) -> HttpResponse:
    """Fresh digits with both classifiers' labels, the training report, figures.

    A pool-only process never draws live (it has no TensorFlow); it shows the
    figures and charts, which come from files beside the models.
    """
    pool_only = not current_source().draws
    model_dir = conf.MODEL_DIR
    meta = {} if model_dir is None else artifacts.read_metadata_or_empty(model_dir)
    rule = artifacts.serving_rule(meta)
    return render(
        request,
        "signup/how_it_works.html",
        {
            "pool_only": pool_only,
            "digits": None if pool_only else _fresh_digits(),
            "reader_threshold": rule.reader_threshold,
            "verifier_threshold": rule.verifier_threshold,
            "report_images": [
                name
                for name in artifacts.REPORT_FILES
                if artifacts.report_path(conf.MODEL_DIR, name)
            ],
            "figures": _figures(),
        },
    )


def report_image(request: HttpRequest, name: str) -> FileResponse:
    """One picture of the training report, from GANCAPTCHA_MODEL_DIR; 404 if absent."""
    path = artifacts.report_path(conf.MODEL_DIR, name)
    if path is None:
        raise Http404("No such report image.")
    return FileResponse(path.open("rb"), content_type="image/png")


def _fresh_digits() -> list[dict[str, Any]] | None:
    """Each digit 0-9 once, in a random order, as drawn for a real challenge."""
    if not current_source().draws:
        return None  # a pool-only worker never loads the models (TensorFlow)
    labels = secrets.SystemRandom().sample(range(constants.NUM_CLASSES), 10)
    try:
        images, reader, verifier = registry.get_registry().draw_with_details(labels)
    except registry.CaptchaUnavailable:
        return None  # logged where it happened
    except Exception:  # a demo page, not a 500
        logger.exception("GanCaptcha demo: could not draw digits")
        return None
    digits = []
    for label, image, reader_value, verifier_value in zip(
        labels, images, reader, verifier, strict=True
    ):
        png = compose_png(image[None], DEMO_DIGIT_SCALE)
        digits.append(
            {
                "label": label,
                "confidence": float(reader_value),
                "verifier_confidence": float(verifier_value),
                "src": "data:image/png;base64," + base64.b64encode(png).decode(),
                "size": constants.IMAGE_SIZE * DEMO_DIGIT_SCALE,
            }
        )
    return digits


def _figures() -> dict[str, Any] | None:
    """The few figures worth a glance, from metadata.json; None if unreadable."""
    model_dir = conf.MODEL_DIR
    if model_dir is None:
        return None
    try:
        meta = artifacts.read_metadata(model_dir)
    except (OSError, ValueError):
        return None
    cal = _dict(meta.get("calibration"))
    per_label = _dict(cal.get("per_label"))
    labels = [
        (d, _percent(_dict(per_label.get(str(d))).get("pass_rate")))
        for d in range(constants.NUM_CLASSES)
    ]
    thresholds = _dict(meta.get("thresholds"))
    rows = [
        (_("Digits passing both filters"), _percent(cal.get("pass_rate"))),
        (
            _("Reader and verifier give the same label"),
            _percent(cal.get("reader_verifier_argmax_agreement")),
        ),
        (_("Reader threshold"), _number(thresholds.get("reader"))),
        (_("Verifier threshold"), _number(thresholds.get("verifier"))),
        (
            _("Reader accuracy on held-out MNIST"),
            _percent(_dict(meta.get("reader")).get("test_accuracy")),
        ),
        (
            _("Verifier accuracy on held-out MNIST"),
            _percent(_dict(meta.get("verifier")).get("test_accuracy")),
        ),
        (_("Generated digits measured"), _number(cal.get("samples"))),
        (_("GAN epochs"), _number(_dict(meta.get("gan")).get("epochs"))),
        (_("Trained"), _number(meta.get("trained_at"))),
    ]
    warnings = meta.get("warnings")
    return {
        "rows": [(name, value) for name, value in rows if value is not None],
        "labels": labels if per_label else [],
        "warnings": [str(w) for w in warnings] if isinstance(warnings, list) else [],
    }


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _percent(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    percent = 100 * value
    # Rare labels pass well under 1%: two significant digits, not "0.0%".
    return f"{percent:.1f}%" if percent >= 1 or percent == 0 else f"{percent:.2g}%"


def _number(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    return f"{value:g}" if isinstance(value, float) else str(value)
