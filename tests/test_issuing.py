"""Issuing is cheap to refuse and bounded: one path for both JSON URLs, no
challenge for HEAD, "busy" instead of a queue of draws, bounded purges."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from io import StringIO

import pytest
from pytest_django import Settings

from django.core.cache import cache
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from gancaptcha_field import api, challenges, issuing
from gancaptcha_field.models import Challenge
from gancaptcha_field.stores import PURGE_BATCH, get_store
from gancaptcha_field.supply import registry, throttle
from tests.utils import Clock, find_tag

REFRESH_URL = "/gancaptcha/refresh/"
ISSUE_URL = "/gancaptcha/issue/"
BUSY = "Too many people at once. Please try again in a few seconds."
UNAVAILABLE = "CAPTCHA temporarily unavailable. Please try again later."

pytestmark = [pytest.mark.django_db]


@pytest.fixture(autouse=True)
def fresh_counters() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def busy() -> Iterator[None]:
    """Another visitor's draw holds this process's one drawing slot."""
    with throttle.drawing_slot():
        yield


# One issuing path -----------------------------------------------------------


@pytest.mark.parametrize(
    ("reason", "message", "retry_after"),
    [
        (issuing.Reason.RATE_LIMITED, "Too many attempts.", 7),
        (issuing.Reason.BUSY, BUSY, 3),
        (issuing.Reason.UNAVAILABLE, UNAVAILABLE, 60),
    ],
)
def test_the_widget_and_both_urls_share_issue_for(
    reason: issuing.Reason,
    message: str,
    retry_after: int,
    client: Client,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # One function decides: its refusal reaches the page and the JSON alike.
    seen: list[tuple[object, str]] = []

    def refuse(request: object, old_key: str = "") -> issuing.Refusal:
        seen.append((request, old_key))
        return issuing.Refusal(reason, message, retry_after)

    monkeypatch.setattr(issuing, "issue_for", refuse)
    html = client.get("/signup/").content.decode()
    assert find_tag(html, "p", role="alert")
    assert message in html
    for url, old_key in ((REFRESH_URL, "oldkey"), (ISSUE_URL, "")):
        response = client.post(url, {"key": "oldkey"})
        assert response.status_code == (429 if reason == "rate_limited" else 503)
        assert response.json()["error"] == reason
        assert response.json()["message"] == message
        assert response["Retry-After"] == str(retry_after)
        assert seen[-1][1] == old_key
    assert seen[0][0] is None  # the widget: the request the middleware holds
    assert len(seen) == 3
    assert not Challenge.objects.exists()


@pytest.mark.usefixtures("captcha_models", "clock")
def test_issue_for_refuses_head_without_counting(settings: Settings) -> None:
    from django.test import RequestFactory

    settings.GANCAPTCHA_RATELIMIT_ENABLED = True
    settings.GANCAPTCHA_RATELIMIT_RATES = {"create": "1/m"}
    factory = RequestFactory()
    for _ in range(3):
        refusal = issuing.issue_for(factory.head("/signup/"))
        assert refusal == issuing.Refusal(issuing.Reason.HEAD, UNAVAILABLE)
    assert isinstance(issuing.issue_for(factory.get("/signup/")), issuing.Issued)
    limited = issuing.issue_for(factory.get("/signup/"))
    assert isinstance(limited, issuing.Refusal)
    assert limited.reason == issuing.Reason.RATE_LIMITED
    assert limited.retry_after is not None and limited.retry_after >= 1


@pytest.mark.usefixtures("captcha_models", "clock")
def test_a_refresh_discards_the_old_key_unless_limited(settings: Settings) -> None:
    from django.test import RequestFactory

    settings.GANCAPTCHA_RATELIMIT_ENABLED = True
    settings.GANCAPTCHA_RATELIMIT_RATES = {"create": "1/m"}
    old = challenges._create_with_answer("1234")
    request = RequestFactory().post(REFRESH_URL)
    assert isinstance(issuing.issue_for(request, old.key), issuing.Issued)
    assert not challenges.is_live(old.key)
    kept = challenges._create_with_answer("1234")
    assert isinstance(issuing.issue_for(request, kept.key), issuing.Refusal)
    assert challenges.is_live(kept.key)  # the user keeps the image they have


def test_both_urls_are_the_one_issuing_function() -> None:
    # refresh and issue differ only in their payload and status.
    assert api.refresh.__module__ == api.issue.__module__ == "gancaptcha_field.api"
    from django.urls import resolve

    assert resolve(REFRESH_URL).func is api.refresh
    assert resolve(ISSUE_URL).func is api.issue


@pytest.mark.usefixtures("captcha_models", "busy")
@pytest.mark.parametrize("url", [REFRESH_URL, ISSUE_URL])
def test_a_busy_process_says_try_again_shortly_with_retry_after(url: str) -> None:
    rows = Challenge.objects.count()
    response = Client().post(url)
    assert response.status_code == 503
    assert response["Retry-After"] == str(throttle.RETRY_AFTER)
    assert response["Cache-Control"] == "no-store"
    assert response.json() == {"error": "busy", "message": BUSY}
    assert Challenge.objects.count() == rows


@pytest.mark.parametrize("url", [REFRESH_URL, ISSUE_URL])
def test_an_empty_pool_says_try_again_shortly(url: str, settings: Settings) -> None:
    settings.GANCAPTCHA_SOURCE = "pool"
    settings.GANCAPTCHA_POOL = {"size": 10}
    response = Client().post(url)
    assert response.status_code == 503
    assert int(response["Retry-After"]) >= 1
    assert response.json()["error"] == "busy"


@pytest.mark.parametrize("url", [REFRESH_URL, ISSUE_URL])
def test_unavailable_models_give_a_503_with_retry_after(
    url: str, broken_registry: object
) -> None:
    response = Client().post(url)
    assert response.status_code == 503
    assert response["Retry-After"] == str(api.UNAVAILABLE_RETRY_AFTER)
    assert response.json() == {"error": "unavailable", "message": UNAVAILABLE}


@pytest.mark.parametrize("url", [REFRESH_URL, ISSUE_URL])
def test_both_urls_count_against_one_create_limit(
    url: str, settings: Settings, captcha_models: None, clock: Clock
) -> None:
    # clock: both posts fall in one fixed window, however slow the machine.
    settings.GANCAPTCHA_RATELIMIT_ENABLED = True
    settings.GANCAPTCHA_RATELIMIT_RATES = {"create": "1/m"}
    client = Client()
    other = ISSUE_URL if url == REFRESH_URL else REFRESH_URL
    assert client.post(url).status_code in (200, 201)
    limited = client.post(other)
    assert limited.status_code == 429
    assert limited.json()["error"] == "rate_limited"
    assert limited.json()["retry_after"] == int(limited["Retry-After"])


# The widget -------------------------------------------------------------------


@pytest.mark.usefixtures("captcha_models", "busy")
def test_a_busy_page_shows_try_again_shortly_and_issues_nothing(
    client: Client,
) -> None:
    response = client.get("/signup/")
    assert response.status_code == 200
    html = response.content.decode()
    assert BUSY in html
    assert find_tag(html, "input", name="captcha_0").get("value") in (None, "")
    assert not Challenge.objects.exists()


@pytest.mark.usefixtures("captcha_models")
def test_head_never_issues_nor_draws_nor_counts(
    client: Client, settings: Settings
) -> None:
    settings.GANCAPTCHA_RATELIMIT_ENABLED = True
    settings.GANCAPTCHA_RATELIMIT_RATES = {"create": "1/m"}
    client.get("/signup/")  # warm: the buckets filled once
    Challenge.objects.all().delete()
    cache.clear()
    models = registry.get_registry()
    before = (models.inference_batches, models.bucket_sizes())
    for _ in range(5):
        assert client.head("/signup/").status_code == 200
    assert not Challenge.objects.exists()
    assert (models.inference_batches, models.bucket_sizes()) == before
    # HEADs counted nothing: the one GET this minute still gets a challenge.
    html = client.get("/signup/").content.decode()
    assert find_tag(html, "input", name="captcha_0")["value"]
    assert Challenge.objects.count() == 1


@pytest.mark.usefixtures("captcha_models")
def test_without_the_middleware_head_issues_as_documented(
    client: Client, settings: Settings
) -> None:
    # The widget cannot see the method then (docs/deployment.md).
    settings.MIDDLEWARE = [
        m for m in settings.MIDDLEWARE if not m.endswith(".RateLimitMiddleware")
    ]
    client.head("/signup/")
    assert Challenge.objects.count() == 1


# Bounded purges ------------------------------------------------------------------


@pytest.fixture
def expired_rows() -> Callable[[int], None]:
    def make(count: int) -> None:
        past = timezone.now() - timedelta(hours=1)
        Challenge.objects.bulk_create(
            Challenge(
                key=f"expired{n}",
                answer="1234",
                png=b"png",
                png_2x=b"",
                created_at=past,
                expires_at=past,
            )
            for n in range(count)
        )

    return make


def test_a_purge_deletes_one_bounded_batch(
    expired_rows: Callable[[int], None],
) -> None:
    expired_rows(PURGE_BATCH * 2 + 7)
    store = get_store()
    assert store.purge_expired(timezone.now()) == PURGE_BATCH
    assert store.purge_expired(timezone.now(), limit=3) == 3
    assert store.purge_expired(timezone.now(), limit=None) == PURGE_BATCH + 4
    assert not Challenge.objects.exists()


def test_an_answer_never_purges_more_than_a_batch(
    expired_rows: Callable[[int], None],
) -> None:
    expired_rows(PURGE_BATCH * 2 + 7)
    challenges.attempt("no-such-key", "1234")
    assert Challenge.objects.count() >= PURGE_BATCH + 7


def test_cleanup_purges_everything_in_bounded_batches(
    expired_rows: Callable[[int], None],
) -> None:
    expired_rows(PURGE_BATCH * 2 + 7)
    out = StringIO()
    with CaptureQueriesContext(connection) as queries:
        call_command("captcha_cleanup", stdout=out)
    assert out.getvalue() == f"Deleted {PURGE_BATCH * 2 + 7} expired challenge(s).\n"
    assert not Challenge.objects.exists()
    deletes = [q["sql"] for q in queries if q["sql"].startswith("DELETE")]
    assert len(deletes) == 3  # 500, 500 and 7 rows
    assert all("IN" in sql for sql in deletes)
