"""Home, signup, welcome and "how it works" pages."""

from __future__ import annotations

import base64
import logging
import secrets
from pathlib import Path
from typing import Any

from django.contrib.auth import login
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from demo_site.signup.forms import SignupForm
from gancaptcha_field import constants
from gancaptcha_field.conf import conf
from gancaptcha_field.supply import registry
from gancaptcha_field.supply.render import compose_png

logger = logging.getLogger(__name__)

# The training report's pictures, by the name used in the URL.
REPORT_IMAGES = {
    "losses": constants.LOSS_PLOT_FILE,
    "samples": constants.SAMPLE_GRID_FILE,
}
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
    """Fresh digits with both classifiers' labels, the training report, figures."""
    return render(
        request,
        "signup/how_it_works.html",
        {
            "digits": _fresh_digits(),
            "reader_threshold": conf.READER_THRESHOLD,
            "verifier_threshold": conf.VERIFIER_THRESHOLD,
            "report_images": [
                name for name, file in REPORT_IMAGES.items() if _report_path(file)
            ],
            "figures": _figures(),
        },
    )


def report_image(request: HttpRequest, name: str) -> FileResponse:
    """One picture of the training report, from GANCAPTCHA_MODEL_DIR; 404 if absent."""
    path = _report_path(REPORT_IMAGES.get(name, ""))
    if path is None:
        raise Http404("No such report image.")
    return FileResponse(path.open("rb"), content_type="image/png")


def _report_path(file: str) -> Path | None:
    model_dir = conf.MODEL_DIR
    if not file or model_dir is None:
        return None
    path = model_dir / file
    return path if path.is_file() else None


def _fresh_digits() -> list[dict[str, Any]] | None:
    """Each digit 0-9 once, in a random order, as drawn for a real challenge."""
    if conf.POOL_ONLY:
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


def _figures() -> list[tuple[str, str]] | None:
    """metadata.json flattened to (name, value) rows; None if it cannot be read."""
    model_dir = conf.MODEL_DIR
    if model_dir is None:
        return None
    try:
        metadata = registry.read_metadata(model_dir)
    except (OSError, ValueError):
        return None
    rows: list[tuple[str, str]] = []
    _flatten(metadata, "", rows)
    return rows


def _flatten(value: Any, name: str, rows: list[tuple[str, str]]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten(item, f"{name}.{key}" if name else str(key), rows)
    elif isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value):
        for index, item in enumerate(value):
            _flatten(item, f"{name}[{index}]", rows)
    elif isinstance(value, list):
        rows.append((name, ", ".join(_show(v) for v in value)))
    else:
        rows.append((name, _show(value)))


def _show(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)
