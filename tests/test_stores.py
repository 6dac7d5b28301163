"""Both stores keep the same promises: live until expiry, consumed exactly once.

Each test runs against SQLite and PostgreSQL (the database store) and against
local memory and Redis (the cache store, through Django's own Redis backend).
PostgreSQL and Redis skip when they do not answer (a failure under CI=true).
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from pytest_django import DjangoDbBlocker, Settings

from django.core.cache import caches
from django.db import DatabaseError, connections
from django.test import Client
from django.utils import timezone

from gancaptcha_field import challenges
from gancaptcha_field.challenges import Code
from gancaptcha_field.models import Challenge
from gancaptcha_field.stores import (
    CacheStore,
    Consumed,
    DatabaseStore,
    Issued,
    Rendered,
    Store,
    StoreError,
    StoreMisconfigured,
    get_store,
)
from gancaptcha_field.supply import pool, render
from tests import services
from tests.utils import Clock

LOCMEM = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}


@pytest.fixture(
    params=[
        # Committed rows: the concurrency test reads them from other threads.
        pytest.param("sqlite", marks=pytest.mark.django_db(transaction=True)),
        "postgres",
        "locmem",
        "redis",
    ]
)
def store(
    request: pytest.FixtureRequest,
    settings: Settings,
    django_db_blocker: DjangoDbBlocker,
) -> Iterator[Store]:
    """Each store, empty, on each backend."""
    kind = request.param
    if kind == "sqlite":
        yield DatabaseStore()
    elif kind == "postgres":
        alias = request.getfixturevalue("postgres_alias")
        with django_db_blocker.unblock():
            Challenge.objects.using(alias).all().delete()
            yield DatabaseStore(using=alias)
            Challenge.objects.using(alias).all().delete()
    elif kind == "locmem":
        location = services.unique_name("locmem")
        settings.CACHES = {"default": LOCMEM, "gc": {**LOCMEM, "LOCATION": location}}
        yield CacheStore("gc")
    else:
        with services.redis_prefix() as prefix:
            settings.CACHES = {"default": LOCMEM, "gc": services.redis_cache(prefix)}
            yield CacheStore("gc")


def issue(store: Store, answer: str = "1234", seconds: int = 300) -> Issued:
    now = timezone.now()
    issued = Issued(
        key=secrets.token_urlsafe(24),
        answer=answer,
        created_at=now,
        expires_at=now + timedelta(seconds=seconds),
    )
    store.save(issued, Rendered(answer, f"png-{answer}".encode(), b"png-2x"))
    return issued


def later(issued: Issued, seconds: float) -> datetime:
    return issued.created_at + timedelta(seconds=seconds)


def test_live_challenge_is_readable_then_consumed_once(store: Store) -> None:
    issued = issue(store, "4071")
    now = later(issued, 1)
    assert store.get_png(issued.key, False, now) == b"png-4071"
    assert store.get_png(issued.key, True, now) == b"png-2x"
    assert store.get_pngs(issued.key, now) == (b"png-4071", b"png-2x")
    assert store.get_answer(issued.key, now) == "4071"
    assert store.consume(issued.key, now) == Consumed("4071", expired=False)
    assert store.consume(issued.key, now) is None
    assert store.get_png(issued.key, False, now) is None
    assert store.get_pngs(issued.key, now) is None
    assert store.get_answer(issued.key, now) is None


def test_the_traps_baits_come_back_with_the_answer(store: Store) -> None:
    """GANCAPTCHA_TRAP's baits, sealed with the answer, on every backend."""
    now = timezone.now()
    issued = Issued("k" * 32, "1234", now, now + timedelta(seconds=60))
    store.save(issued, Rendered("1234", b"png", b"png-2x", baits=("1284", "7234")))
    assert store.get_answer(issued.key, now) == "1234"  # the audio's: no baits
    assert store.consume(issued.key, now) == Consumed(
        "1234", expired=False, baits=("1284", "7234")
    )


def test_expired_challenge_is_reported_once_then_unknown(store: Store) -> None:
    issued = issue(store, "5555", seconds=60)
    assert store.get_png(issued.key, False, later(issued, 59)) is not None
    assert store.get_png(issued.key, False, later(issued, 60)) is None
    assert store.get_pngs(issued.key, later(issued, 59)) is not None
    assert store.get_pngs(issued.key, later(issued, 60)) is None
    assert store.get_answer(issued.key, later(issued, 60)) is None
    assert store.consume(issued.key, later(issued, 61)) == Consumed(None, expired=True)
    assert store.consume(issued.key, later(issued, 62)) is None


def test_discard_and_unknown_keys(store: Store) -> None:
    issued = issue(store)
    other = issue(store, "9999")
    store.discard(issued.key)
    store.discard("never-issued")
    now = later(issued, 1)
    assert store.get_png(issued.key, False, now) is None
    assert store.consume(issued.key, now) is None
    assert store.consume("never-issued", now) is None
    assert store.get_answer(other.key, now) == "9999"


def test_purge_expired(store: Store) -> None:
    old = issue(store, "1111", seconds=60)
    fresh = issue(store, "2222", seconds=600)
    purged = store.purge_expired(later(old, 61))
    # The database deletes rows; a cache expires entries by itself.
    assert purged == (1 if isinstance(store, DatabaseStore) else 0)
    assert store.get_answer(fresh.key, later(old, 61)) == "2222"


def test_concurrent_consumers_have_exactly_one_winner(store: Store) -> None:
    issued = issue(store, "3141")
    now = later(issued, 1)
    workers = 8
    barrier = threading.Barrier(workers)
    results: list[Consumed | None] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    alias = getattr(store, "using", None) or "default"

    def consume() -> None:
        try:
            if isinstance(store, DatabaseStore):
                connections[alias].ensure_connection()  # connect, then race
            barrier.wait(timeout=20)
            result = store.consume(issued.key, now)
            with lock:
                results.append(result)
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=consume) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert results.count(Consumed("3141", expired=False)) == 1
    assert results.count(None) == workers - 1


# Through the public API, with GANCAPTCHA_STORE naming the cache.


@pytest.fixture
def cache_store(settings: Settings) -> None:
    settings.CACHES = {
        "default": LOCMEM,
        "gc": {**LOCMEM, "LOCATION": services.unique_name("api")},
    }
    settings.GANCAPTCHA_STORE = "cache"
    settings.GANCAPTCHA_CACHE_ALIAS = "gc"


@pytest.mark.usefixtures("captcha_models", "cache_store", "db")
def test_challenges_live_in_the_cache_when_configured(client: Client) -> None:
    issued = challenges.create_challenge()
    assert isinstance(get_store(), CacheStore)
    assert not Challenge.objects.exists()
    assert caches["gc"].get(f"gancaptcha:{issued.key}:a") is not None
    assert challenges.get_answer_for_audio(issued.key) == issued.answer
    response = client.get(f"/gancaptcha/{issued.key}/image.png")
    assert response.status_code == 200
    assert response.content == challenges.get_png(issued.key)
    assert challenges.attempt(issued.key, issued.answer).code is Code.OK
    assert challenges.attempt(issued.key, issued.answer).code is Code.UNKNOWN
    assert client.get(f"/gancaptcha/{issued.key}/image.png").status_code == 410
    assert challenges.get_answer_for_audio(issued.key) is None


@pytest.mark.usefixtures("captcha_models", "cache_store", "db")
def test_cache_store_wrong_answer_and_expiry(settings: Settings, clock: Clock) -> None:
    settings.GANCAPTCHA_TIMEOUT = 60
    wrong = challenges.create_challenge()
    late = challenges.create_challenge()
    bad = "0000" if wrong.answer != "0000" else "1111"
    assert challenges.attempt(wrong.key, bad).code is Code.INVALID
    assert challenges.attempt(wrong.key, wrong.answer).code is Code.UNKNOWN
    clock.advance(60)
    assert challenges.get_png(late.key) is None
    assert challenges.attempt(late.key, late.answer).code is Code.EXPIRED
    assert challenges.purge_expired() == 0


@pytest.mark.django_db
def test_unreachable_redis_is_a_503_not_a_500(settings: Settings) -> None:
    port = services.unused_port()
    settings.CACHES = {
        "default": LOCMEM,
        "gc": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{port}/0",
            "OPTIONS": {"socket_connect_timeout": 1},
        },
    }
    settings.GANCAPTCHA_STORE = "cache"
    settings.GANCAPTCHA_CACHE_ALIAS = "gc"
    key = secrets.token_urlsafe(24)
    with pytest.raises(StoreError) as raised:
        challenges.get_png(key)
    assert isinstance(raised.value, DatabaseError)  # what the views catch
    response = Client(raise_request_exception=False).get(f"/gancaptcha/{key}/image.png")
    assert response.status_code == 503


@pytest.mark.parametrize(
    ("store_setting", "alias"), [("redis", "default"), ("cache", "missing")]
)
def test_misconfigured_store_is_a_503_with_a_log_line_never_a_500(
    settings: Settings,
    store_setting: str,
    alias: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings.GANCAPTCHA_STORE = store_setting
    settings.GANCAPTCHA_CACHE_ALIAS = alias
    key = secrets.token_urlsafe(24)
    with pytest.raises(StoreMisconfigured) as raised:
        challenges.get_png(key)
    assert isinstance(raised.value, DatabaseError)  # what the views catch
    client = Client(raise_request_exception=False)
    for path in (f"/gancaptcha/{key}/image.png", f"/gancaptcha/{key}/audio.wav"):
        caplog.clear()
        assert client.get(path).status_code == 503
        assert "the challenge store failed" in caplog.text
    # And an answer is refused, not a 500: the check reads the store only.
    assert challenges.attempt(key, "1234").code is challenges.Code.UNAVAILABLE


@pytest.mark.usefixtures("captcha_models")
@pytest.mark.parametrize("synchronous", [False, True])
def test_issuing_on_postgresql_waits_for_the_disk_only_if_asked(
    postgres_alias: str,
    django_db_blocker: DjangoDbBlocker,
    settings: Settings,
    synchronous: bool,
) -> None:
    """Both ways of issuing: a challenge drawn on the spot, one from the pool."""
    settings.GANCAPTCHA_SYNCHRONOUS_COMMIT = synchronous
    store = DatabaseStore(using=postgres_alias)
    statements: list[list[str]] = []

    def record(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        statements[-1].append(sql)
        return execute(sql, params, many, context)

    seen: list[str | None] = []
    with django_db_blocker.unblock():
        pool.put(render.render_answers(["4711"]), using=postgres_alias)
        connection = connections[postgres_alias]
        statements.append([])
        with connection.execute_wrapper(record):
            drawn = issue(store, "8080")
        statements.append([])
        with connection.execute_wrapper(record):
            pooled = pool.take(store)
        assert pooled is not None

        def read() -> None:  # another connection sees both committed
            for issued in (drawn, pooled):
                seen.append(store.get_answer(issued.key, later(issued, 1)))
            connections.close_all()

        reader = threading.Thread(target=read)
        reader.start()
        reader.join(timeout=30)
        Challenge.objects.using(postgres_alias).all().delete()
    assert seen == ["8080", "4711"]
    for executed in statements:
        relaxed = any(
            "synchronous_commit TO OFF" in sql
            or "set_config('synchronous_commit', 'off', true)" in sql
            for sql in executed
        )
        assert relaxed is not synchronous


@pytest.mark.parametrize(
    "kind",
    [
        pytest.param("sqlite", marks=pytest.mark.django_db(transaction=True)),
        "postgres",
        pytest.param("locmem", marks=pytest.mark.django_db(transaction=True)),
    ],
)
def test_take_pooled_moves_each_row_once_under_the_keys_given(
    request: pytest.FixtureRequest,
    settings: Settings,
    django_db_blocker: DjangoDbBlocker,
    kind: str,
) -> None:
    """The pool's take, on each store: the oldest rows, each once, sealed as
    they were (baits too), as live challenges under the caller's keys."""
    if kind == "postgres":
        alias = request.getfixturevalue("postgres_alias")
        store: Store = DatabaseStore(using=alias)
    elif kind == "sqlite":
        alias, store = "default", DatabaseStore()
    else:
        settings.CACHES = {
            "default": LOCMEM,
            "gc": {**LOCMEM, "LOCATION": services.unique_name("locmem")},
        }
        alias, store = "default", CacheStore("gc")
    keys = [secrets.token_urlsafe(24) for _ in range(3)]
    now = timezone.now()
    expires = now + timedelta(seconds=60)
    with django_db_blocker.unblock():
        pool.clear(using=alias)
        pool.put(
            [
                Rendered("1111", b"png-1", b"png-1-2x"),
                Rendered("2222", b"png-2", b"png-2-2x", baits=("2822",)),
            ],
            using=alias,
        )
        try:
            taken = store.take_pooled(keys, now, expires)
            left = pool.size(using=alias)
            again = store.take_pooled(keys, now, expires)
            pngs = {key: store.get_pngs(key, now) for key in keys}
            consumed = {key: store.consume(key, now) for key in keys}
        finally:
            pool.clear(using=alias)
            Challenge.objects.using(alias).all().delete()
    # Each row under one of the first keys (PostgreSQL numbers them as deleted).
    assert sorted(issued.answer for issued in taken) == ["1111", "2222"]
    assert {issued.key for issued in taken} == set(keys[:2])
    assert all((i.created_at, i.expires_at) == (now, expires) for i in taken)
    assert (left, again) == (0, [])
    by_answer = {issued.answer: issued.key for issued in taken}
    assert pngs == {
        by_answer["1111"]: (b"png-1", b"png-1-2x"),
        by_answer["2222"]: (b"png-2", b"png-2-2x"),
        keys[2]: None,
    }
    assert consumed == {
        by_answer["1111"]: Consumed("1111", expired=False),
        by_answer["2222"]: Consumed("2222", expired=False, baits=("2822",)),
        keys[2]: None,
    }
