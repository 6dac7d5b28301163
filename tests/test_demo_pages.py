"""The demo's "how it works" page and its training-report images."""

from __future__ import annotations

import base64
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pytest_django import Settings

from django.test import Client

from gancaptcha_field import artifacts
from tests.utils import BrokenRegistry, find_tag, find_tags

URL = "/how-it-works/"


def png_bytes(size: tuple[int, int] = (40, 20)) -> bytes:
    buffer = io.BytesIO()
    Image.new("L", size, 200).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def report_dir(settings: Settings, tmp_path: Path) -> Path:
    """A model directory holding only a training report and its metadata."""
    (tmp_path / "report_losses.png").write_bytes(png_bytes((64, 32)))
    (tmp_path / "report_samples.png").write_bytes(png_bytes((32, 32)))
    (tmp_path / "report_pass_rates.png").write_bytes(png_bytes((80, 30)))
    per_label = {str(d): {"pass_rate": 0.02, "reader_share": 0.1} for d in range(10)}
    per_label["8"]["pass_rate"] = 0.00495  # under 1%: two digits
    per_label["9"]["pass_rate"] = 0.0
    (tmp_path / "metadata.json").write_text(
        json.dumps(
            {
                "format_version": 1,
                "reader": {"test_accuracy": 0.99312345},
                "verifier": {"test_accuracy": 0.9901},
                "gan": {"epochs": 60},
                "thresholds": {"reader": 0.999, "verifier": 0.99},
                "calibration": {
                    "samples": 20000,
                    "pass_rate": 0.1799,
                    "reader_verifier_argmax_agreement": 0.6837,
                    "per_label": per_label,
                    "threshold_grid": [{"pass_rate": 0.5}] * 8,
                },
                "warnings": ["calibration: no digit 9 of 20000 passed"],
                "config": {"batch_size": 256, "seed": 0},
            }
        )
    )
    settings.GANCAPTCHA_MODEL_DIR = tmp_path
    return tmp_path


@pytest.mark.usefixtures("captcha_models")
@pytest.mark.django_db
def test_fresh_digits_with_both_classifiers_labels_and_confidence(
    client: Client,
) -> None:
    response = client.get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    items = [part.split("</li>", 1)[0] for part in html.split('<li class="digit">')[1:]]
    assert len(items) == 10
    rule = artifacts.serving_rule()  # the fake models' set records no rule
    labels = []
    for item in items:
        image = find_tag(item, "img")
        assert image["alt"].startswith("A drawn digit, read as ")
        label = int(image["alt"].rsplit(" ", 1)[1])
        assert f"Reader: {label}</span>" in item
        reader_part, verifier_part = item.split('class="digit-verifier"', 1)
        confidence = float(reader_part.split("confidence ", 1)[1].split("<", 1)[0])
        assert rule.reader_threshold <= confidence <= 1.0
        assert f">Verifier: {label}</span>" in verifier_part
        verifier = float(verifier_part.split("confidence ", 1)[1].split("<", 1)[0])
        assert rule.verifier_threshold <= verifier <= 1.0
        src = image["src"].removeprefix("data:image/png;base64,")
        with Image.open(io.BytesIO(base64.b64decode(src))) as png:
            assert png.size == (84, 84)
            pixels = np.asarray(png.convert("L"))
        assert (pixels < 100).sum() > 20  # ink was drawn
        labels.append(label)
    assert sorted(labels) == list(range(10))
    # Fresh each time.
    assert client.get(URL).content.decode() != html


@pytest.mark.django_db
def test_unavailable_models_show_a_notice_not_an_error(
    client: Client, broken_registry: BrokenRegistry
) -> None:
    response = client.get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert "The models are not available right now" in html
    assert find_tags(html, "li", **{"class": "digit"}) == []


@pytest.mark.django_db
def test_report_images_and_figures(
    client: Client, report_dir: Path, broken_registry: BrokenRegistry
) -> None:
    html = client.get(URL).content.decode()
    sources = [image["src"] for image in find_tags(html, "img", **{"class": "report"})]
    files = ("report_losses.png", "report_samples.png", "report_pass_rates.png")
    assert sources == [
        "/how-it-works/report/losses.png",
        "/how-it-works/report/samples.png",
        "/how-it-works/report/pass_rates.png",
    ]
    for source, name in zip(sources, files, strict=True):
        response = client.get(source)
        assert response.status_code == 200
        assert response["Content-Type"] == "image/png"
        assert b"".join(response.streaming_content) == (report_dir / name).read_bytes()
    summary = html.split('class="figures summary"', 1)[1].split("</table>", 1)[0]
    rows = {
        cells.split("</th>")[0]: cells.split("<td>")[1].split("</td>")[0]
        for cells in summary.split('<th scope="row">')[1:]
    }
    assert rows == {
        "Digits passing both filters": "18.0%",
        "Reader and verifier give the same label": "68.4%",
        "Reader threshold": "0.999",
        "Verifier threshold": "0.99",
        "Reader accuracy on held-out MNIST": "99.3%",
        "Verifier accuracy on held-out MNIST": "99.0%",
        "Generated digits measured": "20000",
        "GAN epochs": "60",
    }
    per_label = html.split('class="figures per-label"', 1)[1].split("</table>", 1)[0]
    rates = [cell.split("</td>")[0] for cell in per_label.split("<td>")[1:]]
    assert rates == ["2.0%"] * 8 + ["0.5%", "0.0%"]
    # The warning written by training is shown, and no raw dump of the rest.
    assert "calibration: no digit 9 of 20000 passed" in html
    assert "batch_size" not in html and "threshold_grid" not in html


@pytest.mark.django_db
def test_figures_survive_odd_metadata(
    client: Client, report_dir: Path, broken_registry: BrokenRegistry
) -> None:
    (report_dir / "metadata.json").write_text(
        json.dumps({"calibration": [1], "thresholds": "x", "warnings": "y"})
    )
    response = client.get(URL)
    assert response.status_code == 200
    assert 'class="figures per-label"' not in response.content.decode()


@pytest.mark.django_db
def test_missing_report_is_404_and_said_on_the_page(
    client: Client,
    settings: Settings,
    tmp_path: Path,
    broken_registry: BrokenRegistry,
) -> None:
    settings.GANCAPTCHA_MODEL_DIR = tmp_path
    html = client.get(URL).content.decode()
    assert "No training report has been written yet." in html
    assert "No metadata.json is available yet." in html
    assert client.get("/how-it-works/report/losses.png").status_code == 404
    (tmp_path / "metadata.json").write_text("{not json")
    assert "No metadata.json is available yet." in client.get(URL).content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    [
        "/how-it-works/report/metadata.png",
        "/how-it-works/report/generator.png",
        "/how-it-works/report/..%2Fsettings.png",
        "/how-it-works/report/losses.json",
    ],
)
def test_only_the_report_images_are_served(
    client: Client, report_dir: Path, path: str
) -> None:
    (report_dir / "generator.png").write_bytes(png_bytes())
    assert client.get(path).status_code == 404


@pytest.mark.django_db
def test_how_it_works_in_spanish(
    client: Client, report_dir: Path, broken_registry: BrokenRegistry
) -> None:
    html = client.get(URL, headers={"Accept-Language": "es"}).content.decode()
    assert '<html lang="es">' in html
    assert "<h1>Cómo funciona</h1>" in html
    assert "Informe del entrenamiento" in html


def test_home_links_to_how_it_works(client: Client) -> None:
    html = client.get("/").content.decode()
    assert find_tags(html, "a", href=URL)


POOL_ONLY_PAGE = """
import json, os, sys
os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
import django
django.setup()
from django.test import Client, override_settings
from django.test.utils import setup_test_environment
setup_test_environment()
with override_settings(GANCAPTCHA_SOURCE="pool"):
    client = Client()
    page = client.get("/how-it-works/")
    chart = client.get("/how-it-works/report/pass_rates.png")
    print(json.dumps({
        "status": page.status_code,
        "html": page.content.decode(),
        "chart": chart.status_code,
        "tensorflow": "tensorflow" in sys.modules or "keras" in sys.modules,
    }))
"""


def test_pool_only_page_shows_figures_without_tensorflow() -> None:
    # A fresh process: this one may have imported TensorFlow for other tests.
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run(
        [sys.executable, "-c", POOL_ONLY_PAGE],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["status"] == 200 and result["chart"] == 200
    assert result["tensorflow"] is False
    html = result["html"]
    assert "draws no digits live here" in html
    assert 'class="figures summary"' in html  # from the shipped metadata.json
    assert "/how-it-works/report/pass_rates.png" in html
