"""The pre-rendered pool: each challenge handed out once, refilled off the request."""

from __future__ import annotations

import json
import logging
import os
import platform
import re
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from pytest_django import DjangoDbBlocker, Settings

from django.core.management import CommandError, call_command
from django.db import connections
from django.test import Client
from django.utils import timezone

from gancaptcha_field import challenges, sealing, sql
from gancaptcha_field.conf import conf
from gancaptcha_field.models import Challenge, PooledChallenge
from gancaptcha_field.stores import DatabaseStore, Issued, Rendered
from gancaptcha_field.supply import answers, pool, registry, render
from gancaptcha_field.supply.source import current_source
from gancaptcha_field.testing import answer_for
from tests import services
from tests.services import stop_process
from tests.utils import BrokenRegistry, Clock, find_tag, find_tags

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def pool_on(settings: Settings) -> Settings:
    """A pool of 8 that does not refill itself (tests refill explicitly)."""
    settings.GANCAPTCHA_SOURCE = "pool-then-draw"
    settings.GANCAPTCHA_POOL = {"size": 8, "autofill": False}
    return settings


def rendered(count: int) -> list[Rendered]:
    """Rendered challenges (this module draws with conftest's fake registry)."""
    return render.render_answers([answers.new_answer() for _ in range(count)])


@contextmanager
def postgres_pool(
    items: list[Rendered], blocker: DjangoDbBlocker
) -> Iterator[tuple[str, str]]:
    """A fresh PostgreSQL schema (and its alias) whose pool holds ``items``."""
    services.connect_postgres().close()
    with services.postgres_schema() as schema:
        with blocker.unblock(), services.postgres_alias(schema) as alias:
            pool.put(items, using=alias)
            yield schema, alias


@pytest.mark.usefixtures("captcha_models")
@pytest.mark.django_db
def test_put_take_and_size(pool_on: Settings) -> None:
    items = rendered(3)
    assert pool.put(items) == 3
    assert pool.size() == 3
    issued = pool.take(DatabaseStore())
    assert isinstance(issued, Issued)
    assert pool.size() == 2
    by_answer = {item.answer: item for item in items}
    live = Challenge.objects.get(key=issued.key)
    assert bytes(live.png) == by_answer[issued.answer].png
    assert bytes(live.png_2x) == by_answer[issued.answer].png_2x
    assert challenges.attempt(issued.key, issued.answer).ok
    assert pool.clear() == 2
    assert pool.take(DatabaseStore()) is None


@pytest.mark.django_db
def test_a_pool_smaller_than_a_batch_still_refills_when_low(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.GANCAPTCHA_SOURCE = "pool-then-draw"
    settings.GANCAPTCHA_POOL = {"size": 32, "autofill": True}  # under a batch (64)
    started: list[bool] = []
    monkeypatch.setattr(
        pool, "refill_in_background", lambda: started.append(True) or True
    )
    pool.put(rendered(16))  # half full: at the low water, not under it
    assert not pool.refill_if_low(force_check=True)
    pool.take(DatabaseStore())
    assert pool.refill_if_low(force_check=True)
    assert started == [True]


@pytest.mark.django_db
def test_render_refuses_bad_answers() -> None:
    with pytest.raises(ValueError):
        render.render_answers(["12a4"])


@pytest.mark.usefixtures("captcha_models")
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("returning", [True, False], ids=["returning", "portable"])
def test_concurrent_takers_get_every_row_exactly_once(
    pool_on: Settings, monkeypatch: pytest.MonkeyPatch, returning: bool
) -> None:
    if not returning:
        # As on a database without DELETE ... RETURNING (MySQL).
        monkeypatch.setattr(sql, "supports_delete_returning", lambda db: False)
    items = rendered(24)
    pool.put(items)
    workers = 6
    barrier = threading.Barrier(workers)
    taken: list[Issued] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def take_until_empty() -> None:
        try:
            barrier.wait(timeout=20)
            while (issued := pool.take(DatabaseStore())) is not None:
                with lock:
                    taken.append(issued)
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=take_until_empty) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert len({issued.key for issued in taken}) == len(taken) == len(items)
    # Each pooled image went to exactly one visitor, with its own answer.
    pngs = {key: bytes(png) for key, png in Challenge.objects.values_list("key", "png")}
    assert Counter(pngs[issued.key] for issued in taken) == Counter(
        item.png for item in items
    )
    answer_of = {item.png: item.answer for item in items}
    assert all(answer_of[pngs[issued.key]] == issued.answer for issued in taken)
    assert pool.size() == 0


TAKER = """
import json, django
django.setup()
from gancaptcha_field import challenges
out = []
while True:
    try:
        issued = challenges.create_challenge()
    except challenges.PoolEmpty:
        break
    out.append([issued.key, issued.answer])
print(json.dumps(out))
"""


@pytest.mark.usefixtures("captcha_models")
def test_processes_on_postgresql_get_every_row_exactly_once(
    django_db_blocker: DjangoDbBlocker,
) -> None:
    """SELECT ... FOR UPDATE SKIP LOCKED, across real processes."""
    items = rendered(30)
    with postgres_pool(items, django_db_blocker) as (schema, alias):
        assert connections[alias].features.has_select_for_update_skip_locked
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.multiprocess_settings",
            "GC_MP_SCHEMA": schema,
            "GC_MP_STORE": "database",
        }
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", TAKER],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(3)
        ]
        outputs = [proc.communicate(timeout=300) for proc in procs]
        for proc, (_, err) in zip(procs, outputs, strict=True):
            assert proc.returncode == 0, err
        taken = [pair for out, _ in outputs for pair in json.loads(out)]
        live = {
            key: sealing.unseal(sealed)
            for key, sealed in Challenge.objects.using(alias).values_list(
                "key", "answer"
            )
        }
        left = pool.size(using=alias)
    assert len({key for key, _ in taken}) == len(taken) == len(items)
    assert dict(taken) == live
    assert Counter(answer for _, answer in taken) == Counter(
        item.answer for item in items
    )
    assert left == 0


@pytest.mark.usefixtures("captcha_models")
@pytest.mark.django_db
def test_a_pooled_page_view_makes_no_tensorflow_call(pool_on: Settings) -> None:
    pool.fill(target=2)
    reg = registry.get_registry()
    calls = reg.inference_batches
    browser = Client()
    html = browser.get("/signup/").content.decode()
    key = find_tag(html, "input", name="captcha_0")["value"]
    image = browser.get(f"/gancaptcha/{key}/image.png")
    assert image.status_code == 200
    # The answer typed back is checked against the store; no model runs.
    answer = sealing.unseal(Challenge.objects.get(key=key).answer) or ""
    assert challenges.attempt(key, answer).ok
    assert pool.size() == 1
    assert reg.inference_batches == calls


@pytest.mark.usefixtures("captcha_models")
@pytest.mark.django_db
def test_an_empty_pool_falls_back_and_logs(
    pool_on: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    assert pool.size() == 0
    with caplog.at_level(logging.WARNING, logger="gancaptcha_field.supply.source"):
        issued = challenges.create_challenge()
    assert "pool is empty" in caplog.text
    assert challenges.get_png(issued.key) is not None
    assert challenges.attempt(issued.key, issued.answer).ok


@pytest.mark.usefixtures("captcha_models")
@pytest.mark.django_db
def test_rows_of_another_image_scale_are_not_served(pool_on: Settings) -> None:
    pool.put(rendered(2))
    pool_on.GANCAPTCHA_IMAGE_SCALE = 3
    assert pool.size() == 0
    assert pool.take(DatabaseStore()) is None
    assert PooledChallenge.objects.count() == 2


@pytest.mark.usefixtures("captcha_models")
@pytest.mark.django_db
def test_pool_only_serves_without_the_models(
    pool_on: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    pool.put(rendered(1))
    pool_on.GANCAPTCHA_SOURCE = "pool"
    monkeypatch.setattr(registry, "get_registry", lambda: BrokenRegistry())
    browser = Client()
    html = browser.get("/signup/").content.decode()
    key = find_tag(html, "input", name="captcha_0")["value"]
    assert browser.get(f"/gancaptcha/{key}/image.png").status_code == 200
    assert not current_source().draws  # never asks the (broken) models
    assert challenges.attempt(key, answer_for(key)).ok
    # Empty now: "temporarily unavailable", never a draw and never a 500.
    with pytest.raises(challenges.PoolEmpty):
        challenges.create_challenge()
    response = browser.get("/signup/")
    assert response.status_code == 200
    html = response.content.decode()
    assert not find_tag(html, "input", name="captcha_0").get("value")
    assert not find_tags(html, "img", **{"class": "gancaptcha-image"})


@pytest.mark.usefixtures("captcha_models")
@pytest.mark.django_db(transaction=True)
def test_low_water_starts_a_background_refill(
    pool_on: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    pool_on.GANCAPTCHA_POOL = {"autofill": True, "size": 6, "low_water": 3, "batch": 4}
    monkeypatch.setattr(pool, "CHECK_INTERVAL", 0.0)
    pool.put(rendered(3))
    challenges.create_challenge()  # leaves 2, under the mark
    pool.wait_for_refill(timeout=120)
    assert 6 <= pool.size() <= 6 + 4


class FakeTime:
    """A monotonic clock and a sleep that only moves it; ``during_sleep`` runs
    after each move (a visitor arriving, the pool being looked at)."""

    def __init__(self, during_sleep: Callable[[int], object] = lambda n: None) -> None:
        self.now = 100.0
        self.slept: list[float] = []
        self.during_sleep = during_sleep

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds > 0
        self.now += seconds
        self.slept.append(seconds)
        self.during_sleep(len(self.slept))


def test_the_refill_waits_while_takes_are_recent_and_stops_when_they_stop() -> None:
    pacer: pool.Pacer

    def visitor(sleeps: int) -> None:
        if sleeps <= 3:  # a visitor during each of the first three waits
            pacer.taken()

    fake = FakeTime(visitor)
    pacer = pool.Pacer(quiet=0.3, clock=fake.clock, sleep=fake.sleep)
    pacer.taken()
    assert pacer.wait_turn(low=lambda: False) == 4
    # It returned once a whole quiet spell had passed since the last take.
    assert fake.now - pacer.last_take == pytest.approx(0.3)
    # Nobody took since: the next batch goes at once.
    assert pacer.wait_turn(low=lambda: False) == 0


def test_the_refill_never_waits_in_a_process_that_has_not_served() -> None:
    fake = FakeTime()
    pacer = pool.Pacer(quiet=0.3, clock=fake.clock, sleep=fake.sleep)
    assert pacer.wait_turn(low=lambda: False) == 0
    assert fake.slept == []


def test_the_refill_draws_below_the_floor_however_busy_the_process() -> None:
    pacer: pool.Pacer
    looks: list[bool] = []

    def low() -> bool:
        looks.append(True)
        return len(looks) > 2  # the pool fell under the floor during the waits

    fake = FakeTime(lambda n: pacer.taken())  # a visitor during every wait
    pacer = pool.Pacer(quiet=0.3, clock=fake.clock, sleep=fake.sleep)
    pacer.taken()
    assert pacer.wait_turn(low) == 2
    # Already under the floor: no wait at all, right after a take.
    pacer.taken()
    assert pacer.wait_turn(lambda: True) == 0


@pytest.mark.usefixtures("captcha_models")
@pytest.mark.django_db(transaction=True)
def test_a_worker_refill_waits_for_its_visitors_above_the_floor(
    pool_on: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    pool_on.GANCAPTCHA_POOL = {"size": 8, "batch": 2, "autofill": False}  # floor 2
    pool.put(rendered(4))
    sizes: list[int] = []

    def visitor(sleeps: int) -> None:
        sizes.append(pool.size())  # nothing drawn while it waits
        if sleeps <= 2:
            pacer.taken()

    fake = FakeTime(visitor)
    pacer = pool.Pacer(quiet=0.3, clock=fake.clock, sleep=fake.sleep)
    monkeypatch.setattr(pool, "pacer", pacer)
    pacer.taken()
    pool._refill_worker()  # in this thread: the test sees each step
    # Three waits before the first batch (visitors in the first two), none
    # after: the process went quiet.
    assert sizes == [4, 4, 4]
    assert pool.size() == 8


@pytest.mark.usefixtures("captcha_models")
@pytest.mark.django_db(transaction=True)
def test_a_worker_refill_under_the_floor_draws_at_once(
    pool_on: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    pool_on.GANCAPTCHA_POOL = {"size": 8, "batch": 1, "autofill": False}  # floor 2
    sizes: list[int] = []

    fake = FakeTime(lambda n: sizes.append(pool.size()))
    pacer = pool.Pacer(quiet=0.3, clock=fake.clock, sleep=fake.sleep)
    monkeypatch.setattr(pool, "pacer", pacer)
    pacer.taken()  # a visitor just now, and the pool empty
    pool._refill_worker()
    # Drew 0 -> 2 without waiting; at the floor it waited out the visitor.
    assert sizes == [2]
    assert pool.size() == 8


@pytest.mark.usefixtures("captcha_models")
@pytest.mark.django_db
def test_takes_and_draws_on_the_spot_tell_the_refill_to_wait(
    pool_on: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeTime()
    pacer = pool.Pacer(quiet=0.3, clock=fake.clock, sleep=fake.sleep)
    monkeypatch.setattr(pool, "pacer", pacer)
    pool.put(rendered(1))
    current_source().issue(DatabaseStore())  # from the pool
    assert pacer.last_take == fake.now
    fake.now += 5.0
    current_source().issue(DatabaseStore())  # pool empty: drawn on the spot
    assert pacer.last_take == fake.now


@pytest.mark.usefixtures("captcha_models")
@pytest.mark.django_db
def test_the_producer_never_waits(
    pool_on: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeTime()
    pacer = pool.Pacer(quiet=0.3, clock=fake.clock, sleep=fake.sleep)
    monkeypatch.setattr(pool, "pacer", pacer)
    pacer.taken()  # this process just served, and the pool is above its floor
    pool.put(rendered(4))
    call_command("captcha_fill_pool", "--size", "8", "--batch", "2", stdout=StringIO())
    assert pool.size() == 8
    assert fake.slept == []


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's malloc_trim")
def test_freed_memory_goes_back_through_glibc() -> None:
    assert pool._malloc_trim() is not None
    pool.release_freed_memory()


@pytest.mark.usefixtures("captcha_models")
@pytest.mark.django_db
def test_no_refill_above_low_water_or_when_pool_only(
    pool_on: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    pool_on.GANCAPTCHA_POOL = {"size": 8, "autofill": True, "low_water": 2}
    monkeypatch.setattr(pool, "CHECK_INTERVAL", 0.0)
    pool.put(rendered(2))
    assert not current_source().refill_if_low()
    pool_on.GANCAPTCHA_POOL = {"size": 8, "autofill": True, "low_water": 3}
    pool_on.GANCAPTCHA_SOURCE = "pool"
    assert not current_source().refill_if_low()


@pytest.mark.usefixtures("captcha_models")
@pytest.mark.django_db(transaction=True)
def test_watch_keeps_the_pool_full_until_stopped(pool_on: Settings) -> None:
    stop = threading.Event()
    made: list[int] = []
    producer = threading.Thread(
        target=lambda: made.append(pool.watch(3, 0.05, stop, batch=2))
    )
    producer.start()
    try:
        services.wait_until(lambda: pool.size() >= 3)
        assert pool.take(DatabaseStore()) is not None
        assert pool.take(DatabaseStore()) is not None
        services.wait_until(lambda: pool.size() >= 3)
    finally:
        stop.set()
        producer.join(timeout=120)
    assert not producer.is_alive()
    assert made and made[0] >= 5


@pytest.mark.usefixtures("captcha_models")
@pytest.mark.django_db
def test_fill_pool_command() -> None:
    out = StringIO()
    call_command("captcha_fill_pool", size=3, batch=2, stdout=out)
    assert pool.size() == 3
    assert re.search(
        r"Pool holds 3 challenge\(s\); drew 3 new in \d+\.\d s \(\d+\.\d/s\)\.",
        out.getvalue(),
    )
    out = StringIO()
    call_command("captcha_fill_pool", size=3, stdout=out)
    assert "drew 0 new" in out.getvalue()
    out = StringIO()
    call_command("captcha_fill_pool", size=1, clear=True, stdout=out)
    assert "Removed 3 pooled challenge(s)." in out.getvalue()
    assert pool.size() == 1


@pytest.mark.django_db
def test_fill_pool_command_errors(
    settings: Settings, broken_registry: BrokenRegistry
) -> None:
    settings.GANCAPTCHA_POOL = {"size": 0}
    with pytest.raises(CommandError, match=r"GANCAPTCHA_POOL\['size'\]"):
        call_command("captcha_fill_pool")
    with pytest.raises(CommandError, match="train_captcha_models"):
        call_command("captcha_fill_pool", size=2)
    assert pool.size() == 0


def _take_all(limit: int, using: str | None = None) -> tuple[list[Issued], list[int]]:
    """Take until empty; also the pool's size after each take."""
    store = DatabaseStore(using=using)
    taken: list[Issued] = []
    sizes: list[int] = []
    while len(taken) < limit and (issued := pool.take(store)) is not None:
        taken.append(issued)
        sizes.append(pool.size(using=using))
    return taken, sizes


@pytest.mark.usefixtures("captcha_models")
@pytest.mark.django_db(transaction=True)
def test_a_busy_process_takes_rows_ahead_and_hands_each_out_once(
    clock: Clock,  # the lifetimes below are exact, however slow the takes
    pool_on: Settings,
) -> None:
    items = rendered(40)
    pool.put(items)
    start = timezone.now()
    taken, sizes = _take_all(100)
    # Every row went to exactly one caller...
    assert len({issued.key for issued in taken}) == len(taken) == len(items)
    assert Counter(issued.answer for issued in taken) == Counter(
        item.answer for item in items
    )
    # ...and, once takes came fast, several left the pool in one statement.
    steps = [before - after for before, after in zip([40, *sizes], sizes, strict=False)]
    assert max(steps) > 1
    assert 0 in steps  # handed out from memory, no row taken
    live = {row.key: row for row in Challenge.objects.all()}
    timeout = timedelta(seconds=conf.TIMEOUT)
    for issued in taken:
        row = live[issued.key]
        assert sealing.unseal(row.answer) == issued.answer
        assert row.expires_at == issued.expires_at
        # At least the full lifetime when handed out, at most the hold more.
        assert issued.expires_at - timezone.now() >= timeout - timedelta(seconds=5)
        assert issued.expires_at - start <= timeout + timedelta(
            seconds=pool.RESERVE_HOLD + 5
        )
        assert challenges.attempt(issued.key, issued.answer).ok


@pytest.mark.usefixtures("captcha_models")
@pytest.mark.django_db(transaction=True)
def test_a_challenge_that_waited_too_long_is_not_handed_out(
    pool_on: Settings, clock: Clock
) -> None:
    pool.put(rendered(40))
    _take_all(20)  # warm: this process now takes rows ahead
    assert any(reserve.items for reserve in pool._reserves.values())
    left = pool.size()
    clock.advance(pool.RESERVE_HOLD + 1)
    issued = pool.take(DatabaseStore())
    assert issued is not None
    # What it held had less than the timeout left: a row was taken instead.
    assert pool.size() < left
    assert issued.expires_at - timezone.now() >= timedelta(seconds=conf.TIMEOUT)


@pytest.mark.usefixtures("captcha_models")
@pytest.mark.django_db
def test_inside_a_transaction_rows_are_taken_one_at_a_time(pool_on: Settings) -> None:
    # pytest-django runs this test in a transaction, as ATOMIC_REQUESTS would:
    # rows taken ahead could be rolled back under the process's feet.
    pool.put(rendered(12))
    taken, sizes = _take_all(100)
    assert len(taken) == 12
    assert sizes == list(range(11, -1, -1))
    assert pool.forget_reserved() == 0


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
@pytest.mark.usefixtures("captcha_models")
@pytest.mark.django_db(transaction=True)
def test_a_forked_child_does_not_inherit_taken_rows(pool_on: Settings) -> None:
    pool.put(rendered(40))
    _take_all(20)
    assert pool._reserves and any(r.items for r in pool._reserves.values())
    pid = os.fork()
    if pid == 0:  # the child: exit code 0 if it holds nothing
        os._exit(0 if not pool._reserves else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


@pytest.mark.usefixtures("captcha_models")
def test_a_busy_process_on_postgresql_takes_rows_ahead(
    django_db_blocker: DjangoDbBlocker,
) -> None:
    """The one-statement batch (= ANY(ARRAY(...)), keys by unnest) on PostgreSQL."""
    items = rendered(40)
    with postgres_pool(items, django_db_blocker) as (_, alias):
        taken, sizes = _take_all(100, alias)
        live = {
            key: sealing.unseal(sealed)
            for key, sealed in Challenge.objects.using(alias).values_list(
                "key", "answer"
            )
        }
        expires = dict(Challenge.objects.using(alias).values_list("key", "expires_at"))
    assert len({issued.key for issued in taken}) == len(taken) == len(items)
    assert {issued.key: issued.answer for issued in taken} == live
    assert all(expires[issued.key] == issued.expires_at for issued in taken)
    steps = [before - after for before, after in zip([40, *sizes], sizes, strict=False)]
    assert max(steps) > 1


@pytest.mark.usefixtures("captcha_models")
def test_a_web_server_fills_the_default_pool_from_its_first_request(
    tmp_path: Path,
) -> None:
    """Out of the box (no GANCAPTCHA_SOURCE or GANCAPTCHA_POOL), a real
    runserver process starts drawing into the pool at its first request,
    whatever the page, before anyone asks for a challenge; merely starting
    draws nothing."""
    import sqlite3
    import urllib.error
    import urllib.request

    # The server draws with the real shipped models, not this module's fake.
    db = tmp_path / "web.sqlite3"
    env = services.migrated_web_site(db)
    table = PooledChallenge._meta.db_table
    port = services.unused_port()
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def pooled() -> int:
        with sqlite3.connect(db, timeout=30) as connection:
            return int(
                connection.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
            )

    try:
        assert services.wait_for_server(proc, port), "the server exited"
        assert pooled() == 0  # up, models loaded, nothing drawn yet
        try:  # the home page: no CAPTCHA on it
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=60).close()
        except urllib.error.HTTPError:
            pass
        services.wait_until(
            lambda: proc.poll() is not None or pooled() >= 4, timeout=180
        )
        assert proc.poll() is None, "the server exited"
        assert pooled() >= 4  # the first batch of the default pool
    finally:
        stop_process(proc)


@pytest.mark.django_db(transaction=True)
def test_a_waiting_refill_lets_go_of_its_database_connection() -> None:
    # Each look at the pool's size while the refill waits out traffic closes
    # the refill thread's connection, so a long spell holds none of the site's.
    seen: dict[str, object] = {}

    def look() -> None:
        seen["low"] = pool._low_and_let_go()
        seen["open"] = connections["default"].connection is not None

    thread = threading.Thread(target=look)
    thread.start()
    thread.join()
    assert seen == {"low": True, "open": False}  # an empty pool is under its floor
