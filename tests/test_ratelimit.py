"""Per-client rate limits: challenge creation, image fetches and failed answers."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import pytest
from pytest_django import Settings

from django.contrib.auth.models import User
from django.core import checks as django_checks
from django.core.cache import cache, caches
from django.core.management import call_command
from django.db import transaction
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone

from gancaptcha_field import challenges, checks, ratelimit
from gancaptcha_field.stores import Issued, get_store
from tests import services
from tests.utils import Clock, captcha_codes, find_tag, signup_data

MakeChallenge = Callable[[str], Issued]

REFRESH_URL = "/gancaptcha/refresh/"
LIMITED = "Too many attempts. Please wait a minute and try again."


# Counters live in the (process-wide) cache: every test here starts and ends
# with none (conftest's fresh_counters).
pytestmark = pytest.mark.usefixtures("fresh_counters")


@pytest.fixture
def limits(settings: Settings, clock: Clock) -> Callable[..., None]:
    """Turn rate limits on with the given rates (others unlimited).

    The clock stands still, so a test's requests fall in one fixed window
    however slow the machine (the window moves only by clock.advance()).
    """

    def turn_on(**rates: str | None) -> None:
        settings.GANCAPTCHA_RATELIMIT_ENABLED = True
        settings.GANCAPTCHA_RATELIMIT_RATES = {
            action: rates.get(action) for action in ratelimit.ACTIONS
        }

    return turn_on


def stored_answer(key: str) -> str | None:
    """The answer, read from the store (whichever GANCAPTCHA_STORE says)."""
    return get_store().get_answer(key, timezone.now())


def image_url(key: str) -> str:
    return reverse("gancaptcha:image", kwargs={"key": key})


def meta_request(**meta: str) -> Any:
    request = RequestFactory().get("/")
    request.META.update(meta)
    return request


def page_key(client: Client) -> str:
    response = client.get("/signup/")
    assert response.status_code == 200
    key = find_tag(response.content.decode(), "input", name="captcha_0")["value"]
    assert key
    return key


@pytest.mark.parametrize(
    ("rate", "expected"),
    [
        ("10/m", ratelimit.Rate(10, 60)),
        ("100/h", ratelimit.Rate(100, 3600)),
        ("5/30s", ratelimit.Rate(5, 30)),
        (" 2 / 2d ", ratelimit.Rate(2, 172800)),
        ("0/s", ratelimit.Rate(0, 1)),
    ],
)
def test_parse_rate(rate: str, expected: ratelimit.Rate) -> None:
    assert ratelimit.parse_rate(rate) == expected


@pytest.mark.parametrize("rate", ["", "10", "10/", "ten/m", "10/y", "-1/m", "5/0s", 5])
def test_parse_rate_refuses_nonsense(rate: Any) -> None:
    with pytest.raises(ValueError):
        ratelimit.parse_rate(rate)


def test_default_client_is_remote_addr_and_ignores_forwarded_headers() -> None:
    request = meta_request(
        REMOTE_ADDR="203.0.113.7",
        HTTP_X_FORWARDED_FOR="198.51.100.1",
        HTTP_X_REAL_IP="198.51.100.2",
    )
    assert ratelimit.client_address(request) == "203.0.113.7"


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (1, "6.6.6.6, 198.51.100.9", "198.51.100.9"),
        (2, "6.6.6.6, 198.51.100.9, 10.0.0.2", "198.51.100.9"),
        # Fewer hops than proxies: misconfigured, so the proxy's own address.
        (2, "198.51.100.9", "10.0.0.1"),
        (1, "", "10.0.0.1"),
        (1, "not-an-address", "10.0.0.1"),
    ],
)
def test_trusted_proxies_take_the_nth_address_from_the_right(
    settings: Settings, proxies: int, forwarded: str, expected: str
) -> None:
    settings.GANCAPTCHA_CLIENT_IP = proxies
    request = meta_request(REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=forwarded)
    assert ratelimit.client_address(request) == expected


def test_a_meta_key_set_by_the_proxy(settings: Settings) -> None:
    settings.GANCAPTCHA_CLIENT_IP = "HTTP_X_REAL_IP"
    request = meta_request(REMOTE_ADDR="10.0.0.1", HTTP_X_REAL_IP="198.51.100.4")
    assert ratelimit.client_address(request) == "198.51.100.4"
    request = meta_request(REMOTE_ADDR="10.0.0.1")
    assert ratelimit.client_address(request) == "10.0.0.1"


@pytest.mark.parametrize(
    ("remote", "expected"),
    [
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"),
        ("::ffff:192.0.2.1", "192.0.2.1"),
        ("", None),
        ("garbage", None),
    ],
)
def test_ipv6_clients_are_grouped_by_64(remote: str, expected: str | None) -> None:
    assert ratelimit.client_address(meta_request(REMOTE_ADDR=remote)) == expected


def test_limits_are_on_by_default_and_off_in_these_test_settings(
    client: Client, make_challenge: MakeChallenge, settings: Settings, clock: Clock
) -> None:
    settings.GANCAPTCHA_RATELIMIT_RATES = {"image": "1/m"}
    challenge = make_challenge("1234")
    # tests/settings.py turns them off explicitly.
    for _ in range(3):
        assert client.get(image_url(challenge.key)).status_code == 200
    del settings.GANCAPTCHA_RATELIMIT_ENABLED
    assert ratelimit.conf.RATELIMIT_ENABLED is True
    statuses = [client.get(image_url(challenge.key)).status_code for _ in range(2)]
    assert statuses == [200, 429]


def test_unreadable_addresses_share_no_bucket_and_warn_once(
    make_challenge: MakeChallenge,
    limits: Callable[..., None],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # gunicorn on a Unix socket gives an empty REMOTE_ADDR: ten garbage
    # requests from one such client must not lock out another.
    limits(image="2/m")
    challenge = make_challenge("1234")
    with caplog.at_level(logging.WARNING, logger="gancaptcha_field.ratelimit"):
        for remote in ("", "garbage") * 5:
            client = Client(REMOTE_ADDR=remote)
            assert client.get(image_url(challenge.key)).status_code == 200
    warnings = [r for r in caplog.records if "no readable client" in r.message]
    assert len(warnings) == 1
    assert "Rate limits are skipped" in warnings[0].message
    # Readable addresses are still limited.
    alice = Client(REMOTE_ADDR="198.51.100.1")
    statuses = [alice.get(image_url(challenge.key)).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]


def test_forwarded_for_with_remote_addr_trusted_warns_once_how_to_configure(
    make_challenge: MakeChallenge,
    limits: Callable[..., None],
    caplog: pytest.LogCaptureFixture,
    settings: Settings,
) -> None:
    limits(image="100/m")
    challenge = make_challenge("1234")
    proxy = Client(REMOTE_ADDR="10.0.0.1")
    with caplog.at_level(logging.WARNING, logger="gancaptcha_field.ratelimit"):
        proxy.get(image_url(challenge.key))  # no header: nothing to say
        assert "X-Forwarded-For" not in caplog.text
        for n in range(3):
            headers = {"X-Forwarded-For": f"198.51.100.{n}"}
            proxy.get(image_url(challenge.key), headers=headers)
    warnings = [r for r in caplog.records if "X-Forwarded-For" in r.message]
    assert len(warnings) == 1
    assert "GANCAPTCHA_CLIENT_IP = N" in warnings[0].message
    # Configured for the proxy: nothing to warn about.
    ratelimit._warned.clear()
    caplog.clear()
    settings.GANCAPTCHA_CLIENT_IP = 1
    with caplog.at_level(logging.WARNING, logger="gancaptcha_field.ratelimit"):
        headers = {"X-Forwarded-For": "198.51.100.9"}
        proxy.get(image_url(challenge.key), headers=headers)
    assert "X-Forwarded-For" not in caplog.text


def test_refund_gives_back_what_this_request_counted_never_below_zero(
    limits: Callable[..., None],
) -> None:
    limits(fail="2/m")
    first = meta_request(REMOTE_ADDR="198.51.100.1")
    # Nothing counted on this request: nothing to give back.
    ratelimit.refund(ratelimit.FAIL, first)
    for _ in range(2):
        assert not ratelimit.hit(ratelimit.FAIL, first).limited
    ratelimit.refund(ratelimit.FAIL, first)  # one pass: one failure back
    second = meta_request(REMOTE_ADDR="198.51.100.1")
    assert not ratelimit.hit(ratelimit.FAIL, second).limited
    assert ratelimit.hit(ratelimit.FAIL, second).limited
    # More refunds than hits on a request give back only what it counted.
    third = meta_request(REMOTE_ADDR="198.51.100.1")
    for _ in range(5):
        ratelimit.refund(ratelimit.FAIL, second)
        ratelimit.refund(ratelimit.FAIL, third)
    # second's two counts came back, third had none: one failure is left.
    assert not ratelimit.hit(ratelimit.FAIL, third).limited
    assert ratelimit.hit(ratelimit.FAIL, third).limited


def test_one_hit_can_count_several_and_refunds_give_them_back_one_at_a_time(
    limits: Callable[..., None],
) -> None:
    limits(fail="5/m")
    request = meta_request(REMOTE_ADDR="198.51.100.1")
    assert not ratelimit.hit(ratelimit.FAIL, request, 4).limited  # 4 of 5
    key = request._gancaptcha_counted[ratelimit.FAIL][-1]
    assert cache.get(key) == 4
    ratelimit.refund(ratelimit.FAIL, request)
    assert cache.get(key) == 3
    assert ratelimit.hit(ratelimit.FAIL, request, 3).limited  # 6 of 5


def test_a_refund_after_the_window_closed_never_goes_below_zero(
    limits: Callable[..., None], clock: Clock
) -> None:
    limits(fail="1/m")
    request = meta_request(REMOTE_ADDR="198.51.100.1")
    assert not ratelimit.hit(ratelimit.FAIL, request).limited
    key = request._gancaptcha_counted[ratelimit.FAIL][-1]
    cache.delete(key)  # the window closed and its counter expired
    ratelimit.refund(ratelimit.FAIL, request)
    assert cache.get(key) is None
    cache.set(key, 0)  # a counter already at zero never goes below it
    request._gancaptcha_counted[ratelimit.FAIL].append(key)
    ratelimit.refund(ratelimit.FAIL, request)
    assert cache.get(key, 0) == 0


def _concurrent_failures(threads: int) -> int:
    """``threads`` clients at once, one address, each counting a failure first."""
    barrier = threading.Barrier(threads)
    allowed: list[bool] = []

    def post() -> None:
        request = meta_request(REMOTE_ADDR="198.51.100.1")
        barrier.wait()
        allowed.append(not ratelimit.hit(ratelimit.FAIL, request).limited)

    workers = [threading.Thread(target=post) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert len(allowed) == threads
    return sum(allowed)


def test_concurrent_failures_never_get_past_the_limit_locmem(
    limits: Callable[..., None],
) -> None:
    limits(fail="5/m")
    for _ in range(3):  # three windows' worth of races (cleared in between)
        assert _concurrent_failures(24) == 5
        cache.clear()


def test_concurrent_failures_never_get_past_the_limit_redis(
    limits: Callable[..., None], settings: Settings
) -> None:
    limits(fail="5/m")
    with services.redis_prefix() as prefix:
        settings.CACHES = {**settings.CACHES, "rl": services.redis_cache(prefix)}
        settings.GANCAPTCHA_RATELIMIT_CACHE = "rl"
        try:
            for _ in range(3):
                assert _concurrent_failures(24) == 5
                caches["rl"].clear()
        finally:
            caches["rl"].close()


@pytest.mark.django_db
@pytest.mark.parametrize("where", ["locmem", "redis"])
def test_failures_counted_in_a_rolled_back_transaction_stay_counted(
    limits: Callable[..., None], settings: Settings, where: str
) -> None:
    # ATOMIC_REQUESTS: the request's transaction rolls back after the count.
    limits(fail="2/m")
    with services.redis_prefix() if where == "redis" else nullcontext() as prefix:
        if prefix is not None:
            settings.CACHES = {**settings.CACHES, "rl": services.redis_cache(prefix)}
            settings.GANCAPTCHA_RATELIMIT_CACHE = "rl"
        for _ in range(2):
            with pytest.raises(RuntimeError), transaction.atomic():
                assert not ratelimit.hit(ratelimit.FAIL, meta_request()).limited
                raise RuntimeError("the view failed after validation")
        assert ratelimit.hit(ratelimit.FAIL, meta_request()).limited


@pytest.mark.django_db(transaction=True)
def test_a_database_cache_counts_and_refunds_durably_inside_a_rolled_back_transaction(
    limits: Callable[..., None], settings: Settings
) -> None:
    # ratelimit commits its own counts (not the caller): a DatabaseCache writes
    # in the request's transaction, and a rollback must not take a count back.
    limits(fail="3/m")
    settings.CACHES = {
        **settings.CACHES,
        "db": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "gancaptcha_rl_durable",
        },
    }
    settings.GANCAPTCHA_RATELIMIT_CACHE = "db"
    call_command("createcachetable", "gancaptcha_rl_durable", verbosity=0)
    try:
        for _ in range(2):
            with pytest.raises(RuntimeError), transaction.atomic():
                assert not ratelimit.hit(ratelimit.FAIL, meta_request()).limited
                raise RuntimeError("the view failed after validation")
        request = meta_request()
        with pytest.raises(RuntimeError), transaction.atomic():
            assert not ratelimit.hit(ratelimit.FAIL, request).limited  # the 3rd
            ratelimit.refund(ratelimit.FAIL, request)  # a pass gives it back
            raise RuntimeError("rolled back, the refund kept")
        assert not ratelimit.hit(ratelimit.FAIL, meta_request()).limited  # 3rd again
        assert ratelimit.hit(ratelimit.FAIL, meta_request()).limited  # the 4th
    finally:
        caches["db"].clear()


@pytest.mark.parametrize(
    "backend",
    [
        "django.core.cache.backends.db.DatabaseCache",
        "django.core.cache.backends.filebased.FileBasedCache",
    ],
)
def test_caches_without_atomic_increments_are_refused_by_e013(
    settings: Settings, backend: str, tmp_path: Path
) -> None:
    settings.GANCAPTCHA_RATELIMIT_ENABLED = True
    settings.CACHES = {
        **settings.CACHES,
        "counts": {"BACKEND": backend, "LOCATION": str(tmp_path / "counts")},
    }
    settings.GANCAPTCHA_RATELIMIT_CACHE = "counts"
    assert ids(checks.check_ratelimit_cache()) == ["gancaptcha_field.E013"]


def test_image_fetches_are_limited_per_client_with_retry_after(
    make_challenge: MakeChallenge, limits: Callable[..., None], clock: Clock
) -> None:
    limits(image="3/m")
    challenge = make_challenge("1234")
    alice = Client(REMOTE_ADDR="198.51.100.1")
    for _ in range(3):
        assert alice.get(image_url(challenge.key)).status_code == 200
    refused = alice.get(image_url(challenge.key))
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert refused["Cache-Control"] == "no-store"
    assert refused.content.decode() == LIMITED
    # Another client is counted apart.
    bob = Client(REMOTE_ADDR="198.51.100.2")
    assert bob.get(image_url(challenge.key)).status_code == 200
    # The window passes (time moved, not slept).
    clock.advance(int(refused["Retry-After"]))
    assert alice.get(image_url(challenge.key)).status_code == 200


def test_a_forged_forwarded_for_does_not_escape_the_limit(
    make_challenge: MakeChallenge, limits: Callable[..., None]
) -> None:
    limits(image="2/m")
    challenge = make_challenge("1234")
    client = Client(REMOTE_ADDR="198.51.100.1")
    statuses = [
        client.get(
            image_url(challenge.key), headers={"X-Forwarded-For": f"192.0.2.{n}"}
        ).status_code
        for n in range(4)
    ]
    assert statuses == [200, 200, 429, 429]


def test_behind_one_trusted_proxy_clients_are_told_apart(
    make_challenge: MakeChallenge, limits: Callable[..., None], settings: Settings
) -> None:
    limits(image="1/m")
    settings.GANCAPTCHA_CLIENT_IP = 1
    challenge = make_challenge("1234")
    proxy = Client(REMOTE_ADDR="10.0.0.1")

    def fetch(client_address: str) -> int:
        headers = {"X-Forwarded-For": f"6.6.6.6, {client_address}"}
        return proxy.get(image_url(challenge.key), headers=headers).status_code

    assert [fetch("198.51.100.1"), fetch("198.51.100.2")] == [200, 200]
    assert [fetch("198.51.100.1"), fetch("198.51.100.2")] == [429, 429]


def test_refresh_is_limited_with_json_and_keeps_the_old_key(
    client: Client, make_challenge: MakeChallenge, limits: Callable[..., None]
) -> None:
    limits(create="2/m")
    old = make_challenge("1234")
    for _ in range(2):
        assert client.post(REFRESH_URL).status_code == 200
    response = client.post(REFRESH_URL, {"key": old.key})
    assert response.status_code == 429
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"
    data = response.json()
    assert data == {
        "error": "rate_limited",
        "message": LIMITED,
        "retry_after": int(response["Retry-After"]),
    }
    assert 1 <= data["retry_after"] <= 60
    assert challenges.get_png(old.key) is not None


def test_page_renders_are_limited_with_a_message_not_an_error(
    client: Client, limits: Callable[..., None], captcha_models: None, db: None
) -> None:
    limits(create="1/m")
    page_key(client)
    response = client.get("/signup/")
    assert response.status_code == 200
    html = response.content.decode()
    assert find_tag(html, "input", name="captcha_0").get("value") in (None, "")
    assert LIMITED in html


def test_failed_answers_are_limited_and_then_even_right_answers_are_refused(
    client: Client, limits: Callable[..., None], captcha_models: None, db: None
) -> None:
    limits(fail="2/m")
    for _ in range(2):
        response = client.post("/signup/", signup_data(page_key(client), "xxxx"))
        assert captcha_codes(response) == ["invalid"]
    key = page_key(client)
    right = stored_answer(key)
    response = client.post("/signup/", signup_data(key, right))
    assert response.status_code == 200
    assert captcha_codes(response) == ["rate_limited"]
    assert LIMITED in response.content.decode()
    assert not User.objects.exists()
    # Refused unread, but still used up.
    assert stored_answer(key) is None


def test_right_answers_do_not_count_as_failures(
    client: Client, limits: Callable[..., None], captcha_models: None, db: None
) -> None:
    limits(fail="1/m")
    for n in range(3):
        key = page_key(client)
        right = stored_answer(key)
        response = client.post("/signup/", signup_data(key, right, f"user{n}"))
        assert response.status_code == 302
        client.logout()
    assert User.objects.count() == 3


class _BrokenCache:
    def __getattr__(self, name: str) -> Callable[..., Any]:
        def fail(*args: Any, **kwargs: Any) -> Any:
            raise ConnectionError("cache down")

        return fail


def test_a_failing_cache_allows_and_logs(
    client: Client,
    make_challenge: MakeChallenge,
    limits: Callable[..., None],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    limits(image="1/m")
    challenge = make_challenge("1234")
    monkeypatch.setattr(ratelimit, "caches", {"default": _BrokenCache()})
    with caplog.at_level(logging.WARNING, logger="gancaptcha_field.ratelimit"):
        for _ in range(3):
            assert client.get(image_url(challenge.key)).status_code == 200
    assert "rate-limit cache failed" in caplog.text


def test_a_bad_rate_at_run_time_is_logged_not_a_500(
    client: Client,
    make_challenge: MakeChallenge,
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings.GANCAPTCHA_RATELIMIT_ENABLED = True
    settings.GANCAPTCHA_RATELIMIT_RATES = {"image": "lots"}
    challenge = make_challenge("1234")
    with caplog.at_level(logging.ERROR, logger="gancaptcha_field.ratelimit"):
        assert client.get(image_url(challenge.key)).status_code == 200
    assert "bad rate for 'image'" in caplog.text


def ids(messages: list[Any]) -> list[str]:
    return [message.id for message in messages]


def test_checks_are_quiet_by_default() -> None:
    assert checks.check_ratelimit() == []
    assert checks.check_ratelimit_cache() == []


def test_e011_bad_settings(settings: Settings) -> None:
    settings.GANCAPTCHA_RATELIMIT_RATES = {"image": "lots", "login": "1/m"}
    settings.GANCAPTCHA_CLIENT_IP = True
    settings.GANCAPTCHA_RATELIMIT_CACHE = "nowhere"
    messages = checks.check_ratelimit()
    assert ids(messages) == ["gancaptcha_field.E011"]
    for part in ("'lots'", "'login'", "GANCAPTCHA_CLIENT_IP", "'nowhere'"):
        assert part in messages[0].msg


@pytest.mark.parametrize("rates", [["10/m"], None, "10/m"])
def test_e011_rates_not_a_dict(settings: Settings, rates: object) -> None:
    settings.GANCAPTCHA_RATELIMIT_RATES = rates
    assert ids(checks.check_ratelimit()) == ["gancaptcha_field.E011"]
    # Every check runs: the settings check leaves the rates to E011.
    found = ids(django_checks.run_checks(tags=[checks.TAG]))
    assert "gancaptcha_field.E011" in found
    assert "gancaptcha_field.E020" not in found


def test_w010_middleware_missing(settings: Settings) -> None:
    settings.GANCAPTCHA_RATELIMIT_ENABLED = True
    settings.DEBUG = True
    settings.MIDDLEWARE = [
        m
        for m in settings.MIDDLEWARE
        if m != "gancaptcha_field.ratelimit.RateLimitMiddleware"
    ]
    assert ids(checks.check_ratelimit()) == ["gancaptcha_field.W010"]


def test_w013_the_way_without_reading_unlimited(settings: Settings) -> None:
    settings.GANCAPTCHA_RATELIMIT_ENABLED = True
    settings.GANCAPTCHA_RATELIMIT_RATES = {"no_reading": None}
    assert ids(checks.check_ratelimit()) == ["gancaptcha_field.W013"]
    settings.GANCAPTCHA_RATELIMIT_RATES = {"no_reading": "10/h"}
    assert checks.check_ratelimit() == []
    settings.GANCAPTCHA_RATELIMIT_RATES = {"no_reading": None}
    settings.GANCAPTCHA_RATELIMIT_ENABLED = False  # all limits off: said elsewhere
    assert checks.check_ratelimit() == []


@pytest.mark.parametrize("backend", ["locmem.LocMemCache", "dummy.DummyCache"])
def test_e012_per_process_cache_in_production(settings: Settings, backend: str) -> None:
    settings.GANCAPTCHA_RATELIMIT_ENABLED = True
    settings.CACHES = {
        "default": {"BACKEND": f"django.core.cache.backends.{backend}"},
        "shared": {"BACKEND": "django.core.cache.backends.redis.RedisCache"},
    }
    settings.DEBUG = True  # runserver and the demo: one process, fine
    assert checks.check_ratelimit_cache() == []
    settings.DEBUG = False
    messages = checks.check_ratelimit_cache()
    assert ids(messages) == ["gancaptcha_field.E012"]
    assert messages[0].is_serious()
    assert "Redis" in messages[0].hint
    assert checks.check_ratelimit() == []  # E012 only, said once
    settings.GANCAPTCHA_RATELIMIT_CACHE = "shared"
    assert checks.check_ratelimit_cache() == []
    settings.GANCAPTCHA_RATELIMIT_CACHE = "default"
    settings.GANCAPTCHA_RATELIMIT_ENABLED = False  # no limits, nothing to count
    assert checks.check_ratelimit_cache() == []


@pytest.mark.parametrize("backend", ["db.DatabaseCache", "filebased.FileBasedCache"])
def test_e013_caches_that_do_not_count_atomically(
    settings: Settings, backend: str
) -> None:
    settings.GANCAPTCHA_RATELIMIT_ENABLED = True
    settings.DEBUG = True
    settings.CACHES = {
        "default": {"BACKEND": f"django.core.cache.backends.{backend}"},
    }
    assert ids(checks.check_ratelimit_cache()) == ["gancaptcha_field.E013"]


def test_the_cache_checks_are_registered() -> None:
    from django.core.checks import registry

    assert checks.check_ratelimit_cache in registry.registry.get_checks()


def test_the_middleware_hands_the_request_over_and_lets_go() -> None:
    seen: list[Any] = []

    def view(request: Any) -> str:
        seen.append(ratelimit.current_request())
        return "response"

    async def async_view(request: Any) -> str:
        return view(request)

    request = RequestFactory().get("/")
    assert ratelimit.RateLimitMiddleware(view)(request) == "response"
    assert asyncio.run(ratelimit.RateLimitMiddleware(async_view)(request)) == "response"
    assert seen == [request, request]
    assert ratelimit.current_request() is None


@pytest.mark.usefixtures("captcha_models")
@pytest.mark.django_db
def test_a_pass_stands_when_the_refund_fails(
    limits: Callable[..., None],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Bookkeeping after the verdict (the refund) failing is logged, never a 500."""
    from django.db import DatabaseError

    limits(fail="5/m")

    def broken(*args: Any) -> None:
        raise DatabaseError("the counter's database went away")

    monkeypatch.setattr(ratelimit, "refund", broken)
    key = challenges.create_challenge().key
    answer = stored_answer(key)
    request = meta_request(REMOTE_ADDR="198.51.100.9")
    with caplog.at_level(logging.WARNING, logger="gancaptcha_field.challenges"):
        result = challenges.attempt(key, answer, request=request)
    assert result.ok
    assert "could not update the counters" in caplog.text
