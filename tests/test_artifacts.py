"""artifacts: the model files' format, checksums and atomic writes (no TensorFlow)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from gancaptcha_field import artifacts, constants

ROOT = Path(__file__).resolve().parent.parent


def fake_model_set(directory: Path) -> Path:
    """Files of the right names and a metadata.json that pins them."""
    directory.mkdir(parents=True, exist_ok=True)
    for name in (*constants.MODEL_FILES, *constants.ONNX_FILES):
        (directory / name).write_bytes(f"weights of {name}".encode())
    artifacts.write_metadata(
        directory,
        {
            "format_version": constants.MODEL_FORMAT_VERSION,
            "latent_dim": constants.LATENT_DIM,
            "image_size": constants.IMAGE_SIZE,
            "files": artifacts.checksums(directory),
        },
    )
    return directory


def test_atomic_path_replaces_the_file_on_success(tmp_path: Path) -> None:
    target = tmp_path / "model.keras"
    target.write_bytes(b"old")
    with artifacts.atomic_path(target) as tmp:
        assert tmp.parent == tmp_path and tmp.suffix == ".keras"
        assert tmp.name.startswith(".") and tmp != target
        tmp.write_bytes(b"new")
        assert target.read_bytes() == b"old"  # not yet
    assert target.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["model.keras"]


@pytest.mark.parametrize("error", [ValueError, KeyboardInterrupt])
def test_atomic_path_leaves_the_old_file_on_failure(
    tmp_path: Path, error: type[BaseException]
) -> None:
    target = tmp_path / "metadata.json"
    target.write_bytes(b"old")
    with pytest.raises(error), artifacts.atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise error
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["metadata.json"]


def test_atomic_path_when_nothing_was_written_changes_nothing(tmp_path: Path) -> None:
    target = tmp_path / "x.npz"
    with pytest.raises(FileNotFoundError), artifacts.atomic_path(target):
        pass  # the caller wrote nothing: an error, and no empty file appears
    assert list(tmp_path.iterdir()) == []


def test_write_json_is_sorted_and_readable(tmp_path: Path) -> None:
    artifacts.write_json(tmp_path / "a.json", {"b": 1, "a": [1.5]})
    text = (tmp_path / "a.json").read_text()
    assert text.index('"a"') < text.index('"b"') and text.endswith("\n")
    assert json.loads(text) == {"a": [1.5], "b": 1}


def test_sha256_matches_hashlib_for_files_larger_than_a_chunk(tmp_path: Path) -> None:
    payload = bytes(range(256)) * 9000  # > 1 MiB, so several chunks
    (tmp_path / "f").write_bytes(payload)
    assert artifacts.sha256(tmp_path / "f") == hashlib.sha256(payload).hexdigest()


def test_read_metadata_rejects_non_objects(tmp_path: Path) -> None:
    (tmp_path / constants.METADATA_FILE).write_text("[1, 2]")
    with pytest.raises(ValueError, match="not an object"):
        artifacts.read_metadata(tmp_path)
    assert artifacts.read_metadata_or_empty(tmp_path) == {}
    assert artifacts.read_metadata_or_empty(tmp_path / "absent") == {}


def test_inspect_a_sound_set(tmp_path: Path) -> None:
    status = artifacts.inspect_model_dir(fake_model_set(tmp_path))
    assert (status.ok, status.code) == (True, "ok")


def test_inspect_a_set_without_its_onnx_export(tmp_path: Path) -> None:
    fake_model_set(tmp_path)
    (tmp_path / constants.GENERATOR_ONNX_FILE).unlink()
    status = artifacts.inspect_model_dir(tmp_path)
    assert (status.ok, status.code) == (False, "not_exported")
    assert artifacts.export_command(tmp_path) in status.message


def test_inspect_not_configured_and_missing(tmp_path: Path) -> None:
    assert artifacts.inspect_model_dir(None).code == "not_configured"
    status = artifacts.inspect_model_dir(tmp_path)
    assert status.code == "missing" and constants.GENERATOR_FILE in status.message


def test_inspect_finds_a_swapped_file(tmp_path: Path) -> None:
    fake_model_set(tmp_path)
    (tmp_path / constants.READER_FILE).write_bytes(b"another reader")
    status = artifacts.inspect_model_dir(tmp_path)
    assert status.code == "incompatible"
    assert constants.READER_FILE in status.message and "checksum" in status.message


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"format_version": 99}, "Model format 99"),
        ({"latent_dim": 7}, "Latent size"),
    ],
)
def test_inspect_refuses_other_formats(
    tmp_path: Path, change: dict[str, int], words: str
) -> None:
    fake_model_set(tmp_path)
    meta = artifacts.read_metadata(tmp_path) | change
    artifacts.write_metadata(tmp_path, meta)
    status = artifacts.inspect_model_dir(tmp_path)
    assert status.code == "incompatible" and words in status.message


def test_inspect_unreadable_metadata(tmp_path: Path) -> None:
    fake_model_set(tmp_path)
    (tmp_path / constants.METADATA_FILE).write_text("{half")
    assert artifacts.inspect_model_dir(tmp_path).code == "incompatible"


def test_install_staged_moves_every_file(tmp_path: Path) -> None:
    staging, out = tmp_path / ".staging", tmp_path / "out"
    staging.mkdir()
    out.mkdir()
    (staging / "b.keras").write_bytes(b"b")
    (staging / "a.png").write_bytes(b"a")
    (out / "b.keras").write_bytes(b"old b")
    assert artifacts.install_staged(staging, out) == ["a.png", "b.keras"]
    assert (out / "b.keras").read_bytes() == b"b"
    assert list(staging.iterdir()) == []


def test_report_path_serves_only_report_pictures(tmp_path: Path) -> None:
    (tmp_path / constants.PASS_RATE_PLOT_FILE).write_bytes(b"png")
    (tmp_path / "generator.png").write_bytes(b"png")
    assert artifacts.report_path(tmp_path, "pass_rates") == (
        tmp_path / constants.PASS_RATE_PLOT_FILE
    )
    assert artifacts.report_path(tmp_path, "losses") is None  # absent
    assert artifacts.report_path(tmp_path, "generator") is None  # not a report
    assert artifacts.report_path(None, "pass_rates") is None


def test_the_shipped_models_pass_inspection() -> None:
    assert artifacts.inspect_model_dir(ROOT / "ml_models").ok


def test_imports_no_tensorflow() -> None:
    code = (
        "import sys; from pathlib import Path; from gancaptcha_field import artifacts;"
        "artifacts.inspect_model_dir(Path('ml_models'));"
        "print('tensorflow' in sys.modules or 'keras' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert out.stdout.strip() == "False"


def test_the_serving_rule_is_the_one_the_model_set_records(settings: Any) -> None:
    settings.GANCAPTCHA_SERVING_RULE = None
    meta = {
        "thresholds": {"reader": 0.9, "verifier": 0.8, "margin": 3.0},
        "latents": {"fit": {"config": {"margin": 5.0}}},
    }
    assert artifacts.serving_rule(meta) == artifacts.ServingRule(0.9, 0.8, 3.0)


def test_the_margin_falls_back_to_the_latent_banks_then_the_default(
    settings: Any,
) -> None:
    settings.GANCAPTCHA_SERVING_RULE = None
    banked = {
        "thresholds": {"reader": 0.9},
        "latents": {"fit": {"config": {"margin": 5.0}}},
    }
    assert artifacts.serving_rule(banked) == artifacts.ServingRule(
        0.9, constants.DEFAULT_VERIFIER_THRESHOLD, 5.0
    )
    assert artifacts.serving_rule({}) == artifacts.ServingRule(
        constants.DEFAULT_READER_THRESHOLD,
        constants.DEFAULT_VERIFIER_THRESHOLD,
        constants.DEFAULT_MARGIN,
    )


def test_values_that_are_no_thresholds_are_not_read(settings: Any) -> None:
    settings.GANCAPTCHA_SERVING_RULE = None
    meta = {"thresholds": {"reader": "0.5", "verifier": 1.5, "margin": -1}}
    assert artifacts.recorded_rule(meta) == {}
    assert artifacts.recorded_rule({"thresholds": [0.5]}) == {}


def test_the_setting_overrides_only_the_keys_it_names(settings: Any) -> None:
    meta = {"thresholds": {"reader": 0.9, "verifier": 0.8, "margin": 3.0}}
    settings.GANCAPTCHA_SERVING_RULE = {"margin": 0.0}
    assert artifacts.serving_rule(meta) == artifacts.ServingRule(0.9, 0.8, 0.0)
    settings.GANCAPTCHA_SERVING_RULE = {
        "reader_threshold": 0.5,
        "verifier_threshold": 0.6,
    }
    assert artifacts.serving_rule(meta) == artifacts.ServingRule(0.5, 0.6, 3.0)


def test_the_shipped_set_records_the_default_rule(settings: Any) -> None:
    settings.GANCAPTCHA_SERVING_RULE = None
    meta = artifacts.read_metadata(ROOT / "ml_models")
    assert artifacts.serving_rule(meta) == artifacts.ServingRule(
        constants.DEFAULT_READER_THRESHOLD,
        constants.DEFAULT_VERIFIER_THRESHOLD,
        constants.DEFAULT_MARGIN,
    )
