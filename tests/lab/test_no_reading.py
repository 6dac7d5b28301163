"""The lab's per-address figures: a perfect bot through each way in, against
the site's own views and limits, on a simulated clock."""

from __future__ import annotations

import pytest
from pytest_django import Settings

from django.core.cache import cache

from gancaptcha_lab import no_reading

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _cheap(settings: Settings) -> None:
    # Cheap puzzles: the limits, not the price, decide these counts.
    settings.GANCAPTCHA_POW = {
        "iterations": 10,
        "no_reading_min_tries": 4,
        "no_reading_max_tries": 64,
    }
    cache.clear()


def test_the_image_way_is_bounded_by_the_issue_rate() -> None:
    hour = no_reading.simulate_hour("image", minutes=2)
    assert hour.passed == 2 * 30  # "create": 30 a minute
    assert set(hour.refused) == {"issue"}


def test_the_audio_way_is_bounded_by_the_audio_rate() -> None:
    hour = no_reading.simulate_hour("audio", minutes=2)
    assert hour.passed == 2 * 10  # "audio": 10 a minute
    assert set(hour.refused) == {"audio"}


def test_the_no_reading_way_gives_a_few_an_hour() -> None:
    hour = no_reading.simulate_hour("no_reading", minutes=60)
    assert hour.passed == 3  # "no_reading": 3 an hour
    assert hour.refused.get("no_reading", 0) >= 1
    assert hour.solve_cpu_seconds >= 0  # three cheap puzzles: microseconds
    assert hour.as_dict()["cpu_seconds_per_pass"] is not None


def test_an_unknown_way_in_is_refused() -> None:
    with pytest.raises(ValueError, match="no such path"):
        no_reading.simulate_hour("telepathy")


def test_the_table_names_every_way_in() -> None:
    report = {
        "iterations": 2000,
        "tries": 6000,
        "max_tries": 30000,
        "native": {"mean_s": 6.5},
        "chromium": {"median_s": 2.5, "mean_s": 3.1},
        "hour": [
            no_reading.Hour("image", 60, 1800, {"issue": 60}).as_dict(),
            no_reading.Hour("no_reading", 60, 3, {"no_reading": 1}, 19.5).as_dict(),
        ],
    }
    table = no_reading.format_markdown(report)
    assert "| image | 1,800 | issue 60 | - |" in table
    assert "| no reading | 3 | no_reading 1 | 6.50 |" in table
    assert "Chromium, median wall s | 2.50" in table
