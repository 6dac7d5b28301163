"""Shared fixtures: the shipped models, a movable clock, a broken registry."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from django.utils import timezone

from gancaptcha_field import challenges
from gancaptcha_field.models import Challenge
from gancaptcha_field.supply import pool, registry
from tests.utils import BrokenRegistry, Clock


@pytest.fixture(autouse=True)
def _no_reserved_challenges() -> Iterator[None]:
    """Challenges a test's process took ahead from the pool die with its data."""
    pool.forget_reserved()
    yield
    pool.forget_reserved()


@pytest.fixture
def captcha_models() -> None:
    """The shipped models in ml_models/; a broken or missing set fails loudly."""
    status = registry.get_registry().status()
    if not status.ok:
        pytest.fail(
            f"The shipped models are not usable ({status.code}): {status.message} "
            "Run `python manage.py train_captcha_models`.",
            pytrace=False,
        )


@pytest.fixture
def make_challenge(captcha_models: None, db: None) -> Callable[[str], Challenge]:
    """Issue a real challenge (real models, real store) with a chosen answer."""
    return challenges._create_with_answer


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    """Freeze timezone.now() at the real time; tests move it on explicitly."""
    fake = Clock(timezone.now())
    monkeypatch.setattr(timezone, "now", fake)
    yield fake


@pytest.fixture
def broken_registry(monkeypatch: pytest.MonkeyPatch) -> BrokenRegistry:
    """Simulate models that are missing, as an operator might leave them."""
    broken = BrokenRegistry()
    monkeypatch.setattr(registry, "get_registry", lambda: broken)
    return broken
