"""The challenge source: chosen from the settings, asked instead of them."""

from __future__ import annotations

import pytest
from pytest_django import Settings

from gancaptcha_field.supply import pool
from gancaptcha_field.supply.source import Source, current_source


@pytest.mark.parametrize(
    ("pool_only", "size", "kind", "draws", "uses_pool"),
    [
        (True, 100, "pool_only", False, True),
        (True, 0, "pool_only", False, True),  # POOL_ONLY wins over the size
        (False, 100, "pool_then_draw", True, True),
        (False, 0, "draw_only", True, False),
    ],
)
def test_the_settings_name_one_source(
    settings: Settings,
    pool_only: bool,
    size: int,
    kind: str,
    draws: bool,
    uses_pool: bool,
) -> None:
    settings.GANCAPTCHA_POOL_ONLY = pool_only
    settings.GANCAPTCHA_POOL_SIZE = size
    source = current_source()
    assert source == Source.from_settings()
    assert (source.kind, source.draws, source.uses_pool) == (kind, draws, uses_pool)


def test_a_changed_setting_counts_at_once(settings: Settings) -> None:
    settings.GANCAPTCHA_POOL_SIZE = 0
    assert current_source().kind == "draw_only"
    settings.GANCAPTCHA_POOL_SIZE = 10
    assert current_source().kind == "pool_then_draw"


@pytest.mark.parametrize(
    ("source", "refills"),
    [
        (Source("pool_then_draw", autofill=True), True),
        (Source("pool_then_draw", autofill=False), False),
        (Source("pool_only", autofill=True), False),  # never draws
        (Source("draw_only", autofill=True), False),  # has no pool
    ],
)
def test_only_a_drawing_process_with_autofill_refills_the_pool(
    monkeypatch: pytest.MonkeyPatch, source: Source, refills: bool
) -> None:
    asked: list[bool] = []
    monkeypatch.setattr(pool, "refill_if_low", lambda force: asked.append(force))
    assert source.refills is refills
    source.refill_if_low(force_check=True)
    assert asked == ([True] if refills else [])
