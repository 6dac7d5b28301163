"""Answers at rest: sealed in the table, the pool and the cache; never in a repr."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from pytest_django import Settings

from django.db import connection
from django.utils import timezone

from gancaptcha_field import challenges, sealing
from gancaptcha_field.models import Challenge, PooledChallenge
from gancaptcha_field.stores import CacheStore, Consumed, Issued, Rendered
from gancaptcha_field.supply import pool

SEALED = re.compile(r"s1\$[A-Za-z0-9_-]{16}\$\d{4}\$[0-9a-f]{12}")


def test_seal_round_trips_every_answer_and_never_repeats() -> None:
    for number in range(10_000):
        answer = f"{number:04d}"
        stored = sealing.seal(answer)
        assert SEALED.fullmatch(stored)
        assert sealing.unseal(stored) == answer
    # A fresh nonce each time: one answer sealed twice looks unrelated.
    assert len({sealing.seal("1234") for _ in range(100)}) == 100


def test_sealed_digits_are_independent_of_the_answer() -> None:
    # Without SECRET_KEY the sealed digits are a one-time pad: over many seals
    # of one answer every value of the first sealed digit turns up.
    firsts = {sealing.seal("0000").split("$")[2][0] for _ in range(400)}
    assert firsts == set("0123456789")


def test_another_secret_key_opens_nothing(settings: Settings) -> None:
    stored = sealing.seal("4711")
    settings.SECRET_KEY = "another-secret"
    assert sealing.unseal(stored) is None
    settings.SECRET_KEY_FALLBACKS = ["tests-only-not-secret"]
    assert sealing.unseal(stored) == "4711"  # a rotation keeps live challenges


@pytest.mark.parametrize(
    "stored",
    ["4711", "", None, 4711, "s1$x$12$", "s1$abc$12a4$000000000000", "s2$a$1234$b"],
)
def test_foreign_or_tampered_values_open_to_nothing(stored: object) -> None:
    assert sealing.unseal(stored) is None


def test_tampered_digits_are_refused() -> None:
    prefix, nonce, digits, tag = sealing.seal("1234").split("$")
    changed = f"{(int(digits) + 1) % 10_000:04d}"
    assert sealing.unseal(f"{prefix}${nonce}${changed}${tag}") is None


def test_only_digit_answers_are_sealed() -> None:
    with pytest.raises(ValueError):
        sealing.seal("12a4")
    with pytest.raises(ValueError):
        sealing.seal("")


def _raw_answers(table: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT answer FROM {table}")
        return [row[0] for row in cursor.fetchall()]


@pytest.mark.django_db
def test_the_challenge_table_holds_no_answer(
    make_challenge: Callable[[str], Issued],
) -> None:
    issued = make_challenge("8080")
    (stored,) = _raw_answers(Challenge._meta.db_table)
    # Sealed (its digits may be any four, 8080 included).
    assert SEALED.fullmatch(stored)
    assert challenges.get_answer_for_audio(issued.key) == "8080"  # audio still speaks
    assert challenges.attempt(issued.key, "8080").ok


@pytest.mark.django_db
def test_pooled_rows_hold_no_answer_and_keep_it_sealed_when_issued(
    settings: Settings,
) -> None:
    settings.GANCAPTCHA_SOURCE = "pool-then-draw"
    settings.GANCAPTCHA_POOL = {"size": 4, "autofill": False, "reserve": 1}
    pool.put([Rendered("5150", b"png", b"png-2x")])
    (stored,) = _raw_answers(PooledChallenge._meta.db_table)
    assert SEALED.fullmatch(stored)
    issued = challenges.create_challenge()
    assert issued.answer == "5150"
    (live,) = _raw_answers(Challenge._meta.db_table)
    assert SEALED.fullmatch(live)
    assert challenges.attempt(issued.key, "5150").ok


def test_the_cache_holds_no_answer(settings: Settings) -> None:
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "gc": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "sealing-test",
        },
    }
    store = CacheStore("gc")
    now = timezone.now()
    issued = Issued("k" * 32, "6502", now, now + timedelta(seconds=60))
    store.save(issued, Rendered("6502", b"png", b"png-2x"))
    entry = store.cache.get(store._keys(issued.key)[0])
    assert SEALED.fullmatch(entry[0])
    assert store.get_answer(issued.key, now) == "6502"
    assert store.consume(issued.key, now) == Consumed("6502", expired=False)


def test_no_repr_shows_an_answer() -> None:
    now = timezone.now()
    for thing in (
        Issued("key", "9753", now, now),
        Rendered("9753", b"", b""),
        Consumed("9753", expired=False),
    ):
        assert "9753" not in repr(thing)


@pytest.mark.django_db(transaction=True)
def test_the_migration_seals_existing_rows_and_unseals_them_back() -> None:
    from django.db.migrations.executor import MigrationExecutor

    before, after = (
        ("gancaptcha_field", "0002_pool"),
        ("gancaptcha_field", "0003_sealed_answers"),
    )
    executor = MigrationExecutor(connection)
    executor.migrate([before])
    old = executor.loader.project_state([before]).apps
    now = timezone.now()
    old.get_model("gancaptcha_field", "Challenge").objects.create(
        key="k" * 32, answer="2024", png=b"", created_at=now, expires_at=now
    )
    old.get_model("gancaptcha_field", "PooledChallenge").objects.create(
        answer="1999", png=b"", png_2x=b"", scale=2, created_at=now
    )
    executor = MigrationExecutor(connection)
    executor.migrate([after])
    (live,) = _raw_answers(Challenge._meta.db_table)
    (pooled,) = _raw_answers(PooledChallenge._meta.db_table)
    assert SEALED.fullmatch(live) and sealing.unseal(live) == "2024"
    assert SEALED.fullmatch(pooled) and sealing.unseal(pooled) == "1999"
    # A row with the trap's baits (GANCAPTCHA_TRAP) goes back as its answer.
    PooledChallenge.objects.update(answer=sealing.seal("1999", ("1799",)))
    executor = MigrationExecutor(connection)
    executor.migrate([before])  # and back: plain again, to fit four characters
    assert _raw_answers(Challenge._meta.db_table) == ["2024"]
    assert _raw_answers(PooledChallenge._meta.db_table) == ["1999"]
    executor = MigrationExecutor(connection)
    executor.migrate([after])
    (pooled,) = _raw_answers(PooledChallenge._meta.db_table)
    assert SEALED.fullmatch(pooled) and sealing.unseal(pooled) == "1999"
