"""The challenge source: chosen from the settings, asked instead of them."""

from __future__ import annotations

import pytest
from pytest_django import Settings

from gancaptcha_field.supply import pool
from gancaptcha_field.supply.source import Source, current_source


@pytest.mark.parametrize(
    ("value", "kind", "draws", "uses_pool"),
    [
        ("pool", "pool_only", False, True),
        ("pool-then-draw", "pool_then_draw", True, True),
        ("draw", "draw_only", True, False),
    ],
)
def test_the_setting_names_one_source(
    settings: Settings,
    value: str,
    kind: str,
    draws: bool,
    uses_pool: bool,
) -> None:
    settings.GANCAPTCHA_SOURCE = value
    source = current_source()
    assert source == Source.from_settings()
    assert (source.kind, source.draws, source.uses_pool) == (kind, draws, uses_pool)


def test_a_changed_setting_counts_at_once(settings: Settings) -> None:
    settings.GANCAPTCHA_SOURCE = "draw"
    assert current_source().kind == "draw_only"
    settings.GANCAPTCHA_SOURCE = "pool-then-draw"
    assert current_source().kind == "pool_then_draw"


def test_the_old_pool_settings_still_name_their_source(settings: Settings) -> None:
    # Deprecated for one release (check W020): what they meant before.
    del settings.GANCAPTCHA_SOURCE
    settings.GANCAPTCHA_POOL_SIZE = 0
    assert current_source().kind == "draw_only"
    settings.GANCAPTCHA_POOL_ONLY = True  # wins over the size, as before
    assert current_source().kind == "pool_only"


def test_an_old_pool_size_never_overrules_the_new_setting(settings: Settings) -> None:
    del settings.GANCAPTCHA_SOURCE
    settings.GANCAPTCHA_POOL_SIZE = 0
    settings.GANCAPTCHA_POOL = {"size": 500}  # the new setting names a size
    assert current_source().kind == "pool_then_draw"
    del settings.GANCAPTCHA_POOL
    settings.GANCAPTCHA_POOL_SIZE = 0.0  # not an int: E020, never "no pool"
    assert current_source().kind == "pool_then_draw"


def test_a_drawing_process_with_a_pool_of_size_0_does_not_look_in_it(
    settings: Settings,
) -> None:
    settings.GANCAPTCHA_SOURCE = "pool-then-draw"
    settings.GANCAPTCHA_POOL = {"size": 0}
    assert current_source().uses_pool is False
    settings.GANCAPTCHA_SOURCE = "pool"  # a producer fills it: still taken from
    assert current_source().uses_pool is True


def test_the_autofill_key_reaches_the_source(settings: Settings) -> None:
    settings.GANCAPTCHA_SOURCE = "pool-then-draw"
    settings.GANCAPTCHA_POOL = {"autofill": False}
    assert not current_source().refills
    settings.GANCAPTCHA_POOL = {"autofill": True}
    assert current_source().refills


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
