"""Faults fail closed and the site stays up: broken models, a failing store,
generation errors. Each fault is simulated; everything around it is real."""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import shutil
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pytest_django import Settings

from django.contrib.auth.models import User
from django.db import OperationalError
from django.test import Client
from django.utils import timezone

from gancaptcha_field import challenges, checks, constants
from gancaptcha_field.stores import DatabaseStore, get_store
from gancaptcha_field.supply import registry
from tests.utils import captcha_codes, find_tag, signup_data

UNAVAILABLE = "CAPTCHA temporarily unavailable. Please try again later."
REFRESH_URL = "/gancaptcha/refresh/"


@pytest.fixture(scope="module")
def model_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real (untrained, tiny to build) model set that loads and serves nothing.

    Built here rather than copied from ml_models/ so that these tests never
    depend on the shipped models, nor touch them.
    """
    from gancaptcha_field.training import export, networks

    folder = tmp_path_factory.mktemp("models")
    builders = {
        "generator": (networks.build_generator, constants.GENERATOR_FILE),
        "reader": (networks.build_reader, constants.READER_FILE),
        "verifier": (networks.build_verifier, constants.VERIFIER_FILE),
    }
    for role, (build, name) in builders.items():
        model = build()
        model.save(folder / name)
        export.export_model(model, role, folder / f"{role}.onnx")
    write_metadata(folder)
    return folder


def write_metadata(folder: Path, onnx: bool = True) -> None:
    files = {
        name: hashlib.sha256((folder / name).read_bytes()).hexdigest()
        for name in (*constants.MODEL_FILES, *(constants.ONNX_FILES if onnx else ()))
    }
    meta = {
        "format_version": constants.MODEL_FORMAT_VERSION,
        "latent_dim": constants.LATENT_DIM,
        "image_size": constants.IMAGE_SIZE,
        "files": files,
    }
    (folder / constants.METADATA_FILE).write_text(json.dumps(meta))


@pytest.fixture
def copy_model_set(model_set: Path, tmp_path: Path) -> Callable[..., Path]:
    """``copy(name, *ignore)``: model_set copied to ``tmp_path / name``, to break."""

    def copy(name: str, *ignore: str) -> Path:
        folder = tmp_path / name
        shutil.copytree(model_set, folder, ignore=shutil.ignore_patterns(*ignore))
        return folder

    return copy


@pytest.fixture
def use_models(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> Callable[[Path], registry.Registry]:
    """Serve from ``folder`` with a fresh registry, as a restarted process would.

    The process-wide registry is left alone and comes back afterwards.
    """

    def use(folder: Path) -> registry.Registry:
        settings.GANCAPTCHA_MODEL_DIR = folder
        fresh = registry.Registry()
        monkeypatch.setattr(registry, "get_registry", lambda: fresh)
        return fresh

    return use


def signup(client: Client, key: str, answer: str) -> Any:
    return client.post("/signup/", signup_data(key, answer))


def assert_page_is_up_without_a_challenge(client: Client) -> str:
    response = client.get("/signup/")
    assert response.status_code == 200
    html = response.content.decode()
    assert UNAVAILABLE in html
    assert find_tag(html, "input", name="captcha_0").get("value") in (None, "")
    return html


def assert_page_and_refresh_are_down(client: Client) -> None:
    """The page is up without a challenge, and a refresh is a 503, never a 500."""
    assert_page_is_up_without_a_challenge(client)
    refresh = client.post(REFRESH_URL)
    assert refresh.status_code == 503
    assert refresh.json()["error"] == "unavailable"


def seeded_key(answer: str) -> str:
    """A live challenge put straight into the store, as if issued before the fault."""
    from gancaptcha_field.stores import Issued, Rendered

    now = timezone.now()
    issued = Issued(
        key=secrets.token_urlsafe(24),
        answer=answer,
        created_at=now,
        expires_at=now + timedelta(minutes=5),
    )
    get_store().save(issued, Rendered(answer, b"png", b"png"))
    return issued.key


# Models missing or corrupt at start-up ---------------------------------------


@pytest.mark.django_db
def test_a_corrupt_model_file_fails_closed_and_is_reported(
    client: Client,
    copy_model_set: Callable[..., Path],
    use_models: Callable[[Path], registry.Registry],
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert use_models(copy_model_set("good")).status().ok  # the set is sound

    broken = copy_model_set("broken")
    generator = broken / constants.GENERATOR_ONNX_FILE  # what serving loads
    generator.write_bytes(generator.read_bytes()[: generator.stat().st_size // 2])
    write_metadata(broken)  # checksums match: only loading can tell
    assert registry.inspect_model_dir(broken).ok
    use_models(broken)
    with caplog.at_level(logging.ERROR, logger="gancaptcha_field"):
        assert_page_is_up_without_a_challenge(client)
        # Checking reads the store only: a challenge issued before the fault
        # is checked as usual, and a wrong answer to it fails.
        key = seeded_key("1234")
        response = signup(client, key, "4321")
    assert response.status_code == 200
    assert captcha_codes(response) == ["invalid"]
    assert not User.objects.exists()
    assert "GanCaptcha unavailable (incompatible)" in caplog.text
    assert "could not load models" in caplog.text.lower()
    # The cheap check passes (files intact by checksum); the deploy check loads.
    assert checks.check_models() == []
    messages = checks.check_models_load()
    assert [m.id for m in messages] == ["gancaptcha_field.E010"]
    assert str(broken) in messages[0].msg
    refresh = client.post(REFRESH_URL)
    assert refresh.status_code == 503
    assert refresh.json()["error"] == "unavailable"


@pytest.mark.django_db
def test_missing_models_fail_closed_and_are_reported(
    client: Client,
    tmp_path: Path,
    use_models: Callable[[Path], registry.Registry],
    caplog: pytest.LogCaptureFixture,
) -> None:
    use_models(tmp_path)
    with caplog.at_level(logging.ERROR, logger="gancaptcha_field"):
        assert_page_is_up_without_a_challenge(client)
        response = signup(client, seeded_key("4321"), "1234")
    assert captcha_codes(response) == ["invalid"]  # checked without the models
    assert not User.objects.exists()
    assert "GanCaptcha unavailable (missing)" in caplog.text
    assert [m.id for m in checks.check_models()] == ["gancaptcha_field.W001"]
    assert checks.check_models_load() == []  # W001 has said it


@pytest.mark.django_db
def test_models_without_their_onnx_export_fail_closed_and_are_reported(
    client: Client,
    copy_model_set: Callable[..., Path],
    use_models: Callable[[Path], registry.Registry],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A set trained by an older version: sound .keras files, no ONNX files.
    old = copy_model_set("old", "*.onnx")
    write_metadata(old, onnx=False)
    use_models(old)
    with caplog.at_level(logging.ERROR, logger="gancaptcha_field"):
        assert_page_and_refresh_are_down(client)
        response = signup(client, seeded_key("4321"), "1234")
    assert captcha_codes(response) == ["invalid"]  # checked without the models
    assert "GanCaptcha unavailable (not_exported)" in caplog.text
    messages = checks.check_models()
    assert [m.id for m in messages] == ["gancaptcha_field.W004"]
    assert f"captcha_export_onnx --model-dir {old}" in messages[0].msg
    assert checks.check_models_load() == []  # W004 has said it


# Generation errors ----------------------------------------------------------


@pytest.mark.django_db
def test_digits_that_never_pass_the_filters_fail_closed(
    client: Client,
    model_set: Path,
    use_models: Callable[[Path], registry.Registry],
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Untrained models are never 99.9% sure of anything: no digit passes.
    settings.GANCAPTCHA_DRAW = {"batch_size": 8, "max_batches": 1}
    assert use_models(model_set).status().ok
    with caplog.at_level(logging.ERROR, logger="gancaptcha_field"):
        assert_page_and_refresh_are_down(client)
    assert "passed the filters" in caplog.text
    assert "failing closed" in caplog.text


class ExplodingRegistry:
    """Models that load but whose inference blows up (say, out of memory)."""

    def status(self) -> registry.Status:
        return registry.Status(True, "ok", "loaded")

    def load(self) -> registry.Status:
        return self.status()

    def draw(self, labels: object) -> object:
        raise RuntimeError("simulated failure inside ONNX Runtime")

    def draw_with_details(self, labels: object) -> object:
        return self.draw(labels)


@pytest.mark.django_db
def test_an_unexpected_generation_error_is_contained_and_logged(
    client: Client,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(registry, "get_registry", ExplodingRegistry)
    with caplog.at_level(logging.ERROR, logger="gancaptcha_field"):
        assert_page_and_refresh_are_down(client)
    failures = [r for r in caplog.records if r.exc_info]
    assert len(failures) == 2
    assert all("simulated failure" in str(r.exc_info[1]) for r in failures)  # type: ignore[index]


# The store fails -------------------------------------------------------------


def _database_down(*args: Any, **kwargs: Any) -> Any:
    raise OperationalError("could not connect to server: Connection refused")


@pytest.mark.usefixtures("captcha_models")
@pytest.mark.django_db
def test_the_store_failing_during_validation_is_a_form_error(
    client: Client,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    issued = challenges._create_with_answer("2468")
    monkeypatch.setattr(DatabaseStore, "consume", _database_down)
    with caplog.at_level(logging.ERROR, logger="gancaptcha_field"):
        response = signup(client, issued.key, "2468")
    assert response.status_code == 200
    assert captcha_codes(response) == ["unavailable"]
    assert UNAVAILABLE in response.content.decode()
    assert not User.objects.exists()
    assert "could not verify a challenge" in caplog.text
    assert "Connection refused" in caplog.text


@pytest.mark.usefixtures("captcha_models")
@pytest.mark.django_db
def test_the_store_failing_on_an_empty_answer_is_a_form_error(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    issued = challenges._create_with_answer("2468")
    monkeypatch.setattr(DatabaseStore, "discard", _database_down)
    response = signup(client, issued.key, "")
    assert response.status_code == 200
    assert captcha_codes(response) == ["unavailable"]


@pytest.mark.usefixtures("captcha_models")
@pytest.mark.django_db
def test_the_store_failing_while_issuing_keeps_the_page_up(
    client: Client,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(challenges, "create_challenge", _database_down)
    with caplog.at_level(logging.ERROR, logger="gancaptcha_field"):
        assert_page_and_refresh_are_down(client)
    assert caplog.text.count("could not issue a challenge") == 2


@pytest.mark.usefixtures("captcha_models")
@pytest.mark.django_db
def test_the_store_failing_while_serving_an_image_is_a_503(
    client: Client,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    issued = challenges._create_with_answer("2468")
    monkeypatch.setattr(challenges, "get_png", _database_down)
    with caplog.at_level(logging.ERROR, logger="gancaptcha_field"):
        response = client.get(f"/gancaptcha/{issued.key}/image.png")
    assert response.status_code == 503
    assert response["Cache-Control"] == "no-store"
    assert "failed serving an image" in caplog.text
