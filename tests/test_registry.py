"""The registry: file checks without loading, loading once, status codes."""

from __future__ import annotations

import hashlib
import inspect
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pytest_django import Settings

from gancaptcha_field import constants
from gancaptcha_field.supply import registry

SHIPPED = Path(__file__).resolve().parent.parent / "ml_models"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _fake_set(folder: Path, onnx: bool = True, **changes: Any) -> Path:
    """Model files that are not Keras archives nor ONNX graphs (``onnx``: the
    latter at all), with a metadata.json that vouches for them (so only
    loading can tell), changed by ``changes``."""
    folder.mkdir(parents=True, exist_ok=True)
    meta = json.loads((SHIPPED / constants.METADATA_FILE).read_text())
    meta["files"] = {}
    for name in (*constants.MODEL_FILES, *(constants.ONNX_FILES if onnx else ())):
        data = f"not a model file: {name}".encode()
        (folder / name).write_bytes(data)
        meta["files"][name] = _sha256(data)
    meta.update(changes)
    (folder / constants.METADATA_FILE).write_text(json.dumps(meta))
    return folder


def test_the_shipped_set_is_ok() -> None:
    status = registry.inspect_model_dir(SHIPPED)
    assert (status.ok, status.code) == (True, "ok")


def test_no_directory_is_not_configured() -> None:
    status = registry.inspect_model_dir(None)
    assert (status.ok, status.code) == (False, "not_configured")


def test_missing_files_are_named(tmp_path: Path) -> None:
    (tmp_path / constants.GENERATOR_FILE).write_bytes(b"x")
    status = registry.inspect_model_dir(tmp_path)
    assert (status.ok, status.code) == (False, "missing")
    assert constants.READER_FILE in status.message
    assert constants.METADATA_FILE in status.message
    assert constants.GENERATOR_FILE not in status.message


def test_a_directory_that_does_not_exist_is_missing(tmp_path: Path) -> None:
    assert registry.inspect_model_dir(tmp_path / "nowhere").code == "missing"


@pytest.mark.parametrize("metadata", ["not json {", "[1, 2]", '"a string"'])
def test_unreadable_metadata_is_incompatible(tmp_path: Path, metadata: str) -> None:
    _fake_set(tmp_path)
    (tmp_path / constants.METADATA_FILE).write_text(metadata)
    status = registry.inspect_model_dir(tmp_path)
    assert (status.ok, status.code) == (False, "incompatible")


@pytest.mark.parametrize(
    "changes",
    [
        {"format_version": constants.MODEL_FORMAT_VERSION + 1},
        {"format_version": None},
        {"latent_dim": constants.LATENT_DIM + 1},
        {"image_size": constants.IMAGE_SIZE * 2},
    ],
)
def test_another_format_is_incompatible(tmp_path: Path, changes: Any) -> None:
    status = registry.inspect_model_dir(_fake_set(tmp_path, **changes))
    assert (status.ok, status.code) == (False, "incompatible")


def test_a_file_changed_after_training_is_caught(tmp_path: Path) -> None:
    _fake_set(tmp_path)
    assert registry.inspect_model_dir(tmp_path).ok
    (tmp_path / constants.READER_FILE).write_bytes(b"copied over from another set")
    status = registry.inspect_model_dir(tmp_path)
    assert (status.ok, status.code) == (False, "incompatible")
    assert constants.READER_FILE in status.message


def test_a_set_without_onnx_files_is_not_exported(tmp_path: Path) -> None:
    # A set trained before serving ran ONNX Runtime: sound, but not servable.
    status = registry.inspect_model_dir(_fake_set(tmp_path, onnx=False))
    assert (status.ok, status.code) == (False, "not_exported")
    assert f"captcha_export_onnx --model-dir {tmp_path}" in status.message
    for name in constants.ONNX_FILES:
        assert name in status.message


def test_an_onnx_file_changed_after_export_is_caught(tmp_path: Path) -> None:
    _fake_set(tmp_path)
    (tmp_path / constants.VERIFIER_ONNX_FILE).write_bytes(b"from another set")
    status = registry.inspect_model_dir(tmp_path)
    assert (status.ok, status.code) == (False, "incompatible")
    assert constants.VERIFIER_ONNX_FILE in status.message


def test_a_set_without_onnx_files_fails_closed(
    settings: Settings, tmp_path: Path
) -> None:
    settings.GANCAPTCHA_MODEL_DIR = _fake_set(tmp_path, onnx=False)
    fresh = registry.Registry()
    assert fresh.load().code == "not_exported"
    with pytest.raises(registry.ModelsUnavailable, match="captcha_export_onnx"):
        fresh.draw([1, 2, 3, 4])
    with pytest.raises(registry.ModelsUnavailable):
        fresh.model_set()


def test_status_before_and_after_loading(settings: Settings, tmp_path: Path) -> None:
    fresh = registry.Registry()
    settings.GANCAPTCHA_MODEL_DIR = tmp_path  # empty
    assert fresh.status().code == "missing"  # status() loads on first use
    fresh.reset()
    assert fresh._status.code == "unloaded"


def test_files_that_pass_their_checksums_but_do_not_load(
    settings: Settings, tmp_path: Path
) -> None:
    settings.GANCAPTCHA_MODEL_DIR = _fake_set(tmp_path)
    fresh = registry.Registry()
    status = fresh.load()
    assert (status.ok, status.code) == (False, "incompatible")
    assert "Could not load" in status.message
    with pytest.raises(registry.ModelsUnavailable):
        fresh.draw([1, 2, 3, 4])


def test_models_load_once_per_directory(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import onnxruntime

    loaded: list[str] = []
    real_session = onnxruntime.InferenceSession

    def counting_session(path: str, *args: Any, **kwargs: Any) -> Any:
        loaded.append(Path(path).name)
        return real_session(path, *args, **kwargs)

    monkeypatch.setattr(onnxruntime, "InferenceSession", counting_session)
    settings.GANCAPTCHA_MODEL_DIR = SHIPPED
    fresh = registry.Registry()
    assert fresh.load().code == "ok"
    assert fresh.load().code == "ok"
    assert fresh.status().ok
    assert sorted(loaded) == sorted(constants.ONNX_FILES)  # each file once
    # The lab reads with the same networks: no second load.
    assert fresh.model_set() is fresh.model_set()
    assert len(loaded) == len(constants.ONNX_FILES)

    digits = fresh.draw([0, 7])
    assert digits.shape == (2, constants.IMAGE_SIZE, constants.IMAGE_SIZE)
    assert digits.dtype == np.uint8
    with pytest.raises(ValueError, match="not a digit"):
        fresh.draw([10])

    # Another directory is looked at afresh, and its verdict replaces the last.
    settings.GANCAPTCHA_MODEL_DIR = tmp_path
    assert fresh.load().code == "missing"
    with pytest.raises(registry.ModelsUnavailable):
        fresh.draw([1])


def test_the_fake_registry_keeps_to_the_real_interface() -> None:
    from tests.conftest import FakeRegistry

    public = {name for name in vars(FakeRegistry) if not name.startswith("_")}
    public -= {"drawn"}
    for name in public:
        real = inspect.signature(getattr(registry.Registry, name))
        fake = inspect.signature(getattr(FakeRegistry, name))
        assert list(real.parameters) == list(fake.parameters), name


def test_the_fake_registry_draws_the_same_digits_every_run() -> None:
    from tests.conftest import FakeRegistry

    first, second = FakeRegistry(), FakeRegistry()
    labels = [3, 1, 4, 1, 5, 9, 2, 6]
    images, reader, verifier = first.draw_with_details(labels)
    assert images.shape == (8, constants.IMAGE_SIZE, constants.IMAGE_SIZE)
    assert images.dtype == np.uint8
    assert np.array_equal(images, second.draw(labels))
    assert not np.array_equal(images[1], images[3])  # the next 1, not the same one
    assert reader.tolist() == verifier.tolist() == [1.0] * 8
    with pytest.raises(ValueError, match="not a digit"):
        first.draw([10])
