"""Shared fixtures: the shipped models or a numpy stand-in, a clock, a broken
registry, empty rate-limit counters."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from pytest_django import DjangoDbBlocker

from django.core.cache import cache as default_cache
from django.test import Client
from django.utils import timezone

from gancaptcha_field import challenges, constants, ratelimit
from gancaptcha_field.models import Challenge
from gancaptcha_field.supply import pool, registry
from tests import services
from tests.utils import BrokenRegistry, Clock


@pytest.fixture(autouse=True)
def _no_reserved_challenges() -> Iterator[None]:
    """Challenges a test's process took ahead from the pool die with its data."""
    pool.forget_reserved()
    yield
    pool.forget_reserved()


# Test modules that need digits to show, not what the models draw: every test
# in them gets fake_registry (and captcha_models finds it ready), so they load
# no TensorFlow. The models' own tests (registry, training, attack, sample,
# faults, the multi-process and browser tests) keep the real ones.
FAKE_REGISTRY_MODULES = frozenset(
    {
        "tests.test_api",
        "tests.test_audio",
        "tests.test_captcha_cleanup",
        "tests.test_challenges",
        "tests.test_demo_pages",
        "tests.test_drf",
        "tests.test_fields",
        "tests.test_hostile_input",
        "tests.test_i18n",
        "tests.test_login",
        "tests.test_no_reading",
        "tests.lab.test_no_reading",
        "tests.test_pool",
        "tests.test_pow",
        "tests.test_ratelimit",
        "tests.test_security",
        "tests.test_signup",
        "tests.test_stores",
        "tests.test_testing",
        "tests.test_views",
        "tests.test_widgets",
    }
)


@pytest.fixture(autouse=True)
def _fake_registry_where_digits_will_do(request: pytest.FixtureRequest) -> None:
    """fake_registry for every test in FAKE_REGISTRY_MODULES."""
    if request.module.__name__ in FAKE_REGISTRY_MODULES:
        request.getfixturevalue("fake_registry")


@pytest.fixture
def browser() -> Client:
    """A client that enforces CSRF, as a browser session would meet it."""
    return Client(enforce_csrf_checks=True)


@pytest.fixture
def fresh_counters() -> Iterator[None]:
    """Rate-limit counters live in the (process-wide) cache: start and end the
    test with none. The once-per-process warnings start unsaid, too."""
    default_cache.clear()
    ratelimit._warned.clear()
    yield
    default_cache.clear()
    ratelimit._warned.clear()


@pytest.fixture
def captcha_models() -> None:
    """The shipped models in ml_models/ (or fake_registry, when a test has it);
    a broken or missing set fails loudly."""
    status = registry.get_registry().status()
    if not status.ok:
        pytest.fail(
            f"The shipped models are not usable ({status.code}): {status.message} "
            "Run `python manage.py train_captcha_models`.",
            pytrace=False,
        )


MNIST = Path(__file__).resolve().parent.parent / "ml_models" / "data" / "mnist.npz"


@cache
def _mnist_test_digits() -> tuple[np.ndarray, ...]:
    """MNIST's x_test grouped by label (held-out handwriting, never trained on)."""
    with np.load(MNIST) as data:
        images, labels = data["x_test"], data["y_test"]
    return tuple(images[labels == label] for label in range(constants.NUM_CLASSES))


class FakeRegistry:
    """The registry's serving interface in numpy: real MNIST test digits of the
    asked labels, in a fixed order per label, no TensorFlow and no models."""

    def __init__(self) -> None:
        self._next = [0] * constants.NUM_CLASSES
        self.drawn: list[int] = []  # every label asked for, in order
        self.inference_batches = 0  # draws made: the real one counts TF calls

    def load(self) -> registry.Status:
        return registry.Status(True, "ok", "Fake registry (tests).")

    def status(self) -> registry.Status:
        return self.load()

    def reset(self) -> None:
        self._next = [0] * constants.NUM_CLASSES

    def draw_with_details(
        self, labels: Sequence[int] | np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        by_label = _mnist_test_digits()
        images = []
        if len(labels):
            self.inference_batches += 1
        for label in labels:
            label = int(label)
            if not 0 <= label < constants.NUM_CLASSES:
                raise ValueError(f"not a digit: {label}")
            pool = by_label[label]
            images.append(pool[self._next[label] % len(pool)])
            self._next[label] += 1
            self.drawn.append(label)
        count = len(images)
        return (
            np.stack(images) if images else np.zeros((0, 28, 28), np.uint8),
            np.ones(count, np.float32),
            np.ones(count, np.float32),
        )

    def draw(self, labels: Sequence[int] | np.ndarray) -> np.ndarray:
        return self.draw_with_details(labels)[0]

    def bucket_sizes(self) -> dict[int, int]:
        return {}


@pytest.fixture
def fake_registry(monkeypatch: pytest.MonkeyPatch) -> FakeRegistry:
    """Digits without TensorFlow: for tests that need some digits, not the models."""
    fake = FakeRegistry()
    monkeypatch.setattr(registry, "get_registry", lambda: fake)
    return fake


@pytest.fixture
def make_challenge(
    request: pytest.FixtureRequest, db: None
) -> Callable[[str], Challenge]:
    """Issue a challenge (real store) with a chosen answer: drawn by the real
    models, or by fake_registry when the test has it."""
    if not isinstance(registry.get_registry(), FakeRegistry):
        request.getfixturevalue("captcha_models")
    return challenges._create_with_answer


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    """Freeze timezone.now() at the start of this hour; tests move it on explicitly.

    At a window's start, not wherever real time happens to be: a fixed-window
    counter (rate limits) lives until its window ends, and caches expire it
    on real time, so frozen at 12:00:59 it would vanish a second later.
    """
    fake = Clock(timezone.now().replace(minute=0, second=0, microsecond=0))
    monkeypatch.setattr(timezone, "now", fake)
    yield fake


@pytest.fixture
def broken_registry(monkeypatch: pytest.MonkeyPatch) -> BrokenRegistry:
    """Simulate models that are missing, as an operator might leave them."""
    broken = BrokenRegistry()
    monkeypatch.setattr(registry, "get_registry", lambda: broken)
    return broken


@pytest.fixture(scope="module")
def postgres_alias(django_db_blocker: DjangoDbBlocker) -> Iterator[str]:
    """A migrated PostgreSQL schema of this module's own, as a Django alias."""
    services.connect_postgres().close()
    with (
        services.postgres_schema() as schema,
        django_db_blocker.unblock(),
        services.postgres_alias(schema) as alias,
    ):
        yield alias
