from __future__ import annotations

from io import StringIO
from pathlib import Path

import numpy as np
import pytest

from django.core.management import call_command

from gancaptcha_field.conf import conf
from gancaptcha_field.supply import registry


@pytest.mark.usefixtures("captcha_models")
def test_sample_holds_digits_as_served_with_both_confidences(tmp_path: Path) -> None:
    output = tmp_path / "sample.npz"
    sheet = tmp_path / "sheet.png"
    out = StringIO()
    call_command("captcha_sample", count=30, output=output, sheet=sheet, stdout=out)
    assert f"Wrote 30 digits to {output}" in out.getvalue()
    with np.load(output) as data:
        assert data["images"].shape == (30, 28, 28)
        assert data["images"].dtype == np.uint8
        assert data["labels"].shape == (30,)
        assert set(data["labels"].tolist()) <= set(range(10))
        # Served digits passed both classifiers' thresholds.
        rule = registry.get_registry().serving_rule()
        assert (data["confidence"] >= rule.reader_threshold).all()
        assert (data["verifier_confidence"] >= rule.verifier_threshold).all()
        assert (data["verifier_confidence"] <= 1.0).all()
        # Beside the clean digits, the challenges they make, as served.
        assert (data["clean_images"] == data["images"]).all()
        scale = conf.IMAGE_SCALE
        assert data["served"].shape == (7, 28 * scale, 112 * scale)
        assert (data["served_answers"] == data["labels"][:28].reshape(7, 4)).all()
    assert sheet.read_bytes().startswith(b"\x89PNG")
    assert not list(tmp_path.glob(".*.tmp"))
