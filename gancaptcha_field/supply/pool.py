"""The pre-rendered pool: challenges drawn in batches, each handed out once.

The pool is a table (PooledChallenge) whatever GANCAPTCHA_STORE says, so every
process of a site shares it. Taking a row is one DELETE ... RETURNING in the
transaction that stores the issued challenge (on PostgreSQL, with the store's
INSERT in the same statement): concurrent takers on PostgreSQL skip each
other's locked rows (SKIP LOCKED), and SQLite has one writer at a time.
Databases without RETURNING read a row first and let the row count of a
conditional DELETE decide who got it; the loser tries another.

A busy process takes several rows in that one statement (up to
GANCAPTCHA_POOL_RESERVE, as many as it hands out in a few seconds) and hands
them out one per visitor from memory, so most page views make no round trip
to take one. The rows are live challenges from the moment they are taken;
each stays reserved to this process and goes to one visitor only, with at
least GANCAPTCHA_TIMEOUT seconds left to live (they are stored with a few
seconds more, and dropped unused when they have waited that long). Only
committed rows are held: inside a transaction (ATOMIC_REQUESTS), which might
roll back, a process takes one row at a time. A forked child starts empty.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.db import DatabaseError, connections, router, transaction
from django.utils import timezone

from gancaptcha_field import sealing
from gancaptcha_field.conf import conf
from gancaptcha_field.models import Challenge, PooledChallenge
from gancaptcha_field.stores import DatabaseStore, Issued, Rendered, Store, issuing
from gancaptcha_field.supply.answers import new_answer, new_key
from gancaptcha_field.supply.registry import CaptchaUnavailable

logger = logging.getLogger(__name__)

# Without DELETE ... RETURNING or SKIP LOCKED, takers pick among the oldest few
# rows at random, so concurrent takers rarely collide; a collision costs a try.
_CANDIDATES = 8
_TRIES = 32

# A process looks at the pool's size at most this often (seconds) when deciding
# whether to refill, so a page view rarely pays for a COUNT.
CHECK_INTERVAL = 1.0

# A challenge taken ahead may wait this long in a process (at most a thirtieth
# of GANCAPTCHA_TIMEOUT), and is stored with that much more time to live.
RESERVE_HOLD = 10.0

_refill_lock = threading.Lock()
_refill_thread: threading.Thread | None = None
_last_check = 0.0


def _db(using: str | None) -> str:
    return using or router.db_for_write(PooledChallenge)


def size(using: str | None = None) -> int:
    """How many rows of the current image scale wait in the pool."""
    return (
        PooledChallenge.objects.using(_db(using)).filter(scale=conf.IMAGE_SCALE).count()
    )


def put(items: list[Rendered], using: str | None = None) -> int:
    """Add rendered challenges to the pool in one INSERT; return how many."""
    now = timezone.now()
    scale = conf.IMAGE_SCALE
    PooledChallenge.objects.using(_db(using)).bulk_create(
        [
            PooledChallenge(
                answer=sealing.seal(item.answer, item.baits),
                png=item.png,
                png_2x=item.png_2x,
                scale=scale,
                created_at=now,
            )
            for item in items
        ]
    )
    return len(items)


def clear(using: str | None = None) -> int:
    """Empty the pool (after retraining or changing the image scale)."""
    deleted, _ = PooledChallenge.objects.using(_db(using)).all().delete()
    return int(deleted)


def _issue(
    store: Store,
    rows: list[tuple[object, bytes, bytes]],
    now: datetime,
    hold: float = 0.0,
) -> list[Issued]:
    """Store pooled rows (sealed answer, png, png_2x) as live challenges, at once."""
    expires = now + timedelta(seconds=conf.TIMEOUT + hold)
    opened = _open([(sealed, (png, png_2x)) for sealed, png, png_2x in rows])
    issued = [
        (Issued(new_key(), answer, now, expires), baits, images)
        for (answer, baits), images in opened
    ]
    # PostgreSQL hands back memoryviews.
    store.save_many(
        [
            (one, Rendered(one.answer, bytes(png), bytes(png_2x), baits))
            for one, baits, (png, png_2x) in issued
        ]
    )
    return [one for one, _, _ in issued]


def _open(
    rows: list[tuple[object, Any]],
) -> list[tuple[tuple[str, tuple[str, ...]], Any]]:
    """((answer, baits), extra) per (sealed, extra) that opens; warns for others."""
    opened = [(sealing.open_sealed(sealed), extra) for sealed, extra in rows]
    lost = sum(answer is None for answer, _ in opened)
    if lost:
        # SECRET_KEY changed without SECRET_KEY_FALLBACKS: such rows are useless.
        logger.warning(
            "GanCaptcha pool: dropped %d challenges sealed under another "
            "SECRET_KEY (run `captcha_fill_pool --clear`)",
            lost,
        )
    return [(answer, extra) for answer, extra in opened if answer is not None]


def take(store: Store, using: str | None = None) -> Issued | None:
    """Hand one pooled challenge to the caller as a live one; None if empty.

    The row leaves the pool in the transaction that stores the challenge, so a
    failure to store it puts the row back, and no row reaches two visitors.
    """
    if using is None and isinstance(store, DatabaseStore):
        using = store.database()
    db = _db(using)
    if not supports_delete_returning(db):
        return _take_portable(store, db)
    if connections[db].in_atomic_block or conf.POOL_RESERVE <= 1:
        # Rows taken ahead must be committed: this transaction may roll back.
        taken = _take_returning(store, db, 1, timezone.now(), 0.0)
        return taken[0] if taken else None
    return _reserve_for(store, db).take(
        lambda count, now, hold: _take_returning(store, db, count, now, hold)
    )


class _Reserve:
    """Challenges one process took ahead from the pool, for one store."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.items: deque[Issued] = deque()
        self.last = 0.0  # time.monotonic() of the last take
        self.gap = RESERVE_HOLD  # smoothed seconds between takes

    def take(
        self, fetch: Callable[[int, datetime, float], list[Issued]]
    ) -> Issued | None:
        now = timezone.now()
        timeout = timedelta(seconds=conf.TIMEOUT)
        hold = min(RESERVE_HOLD, conf.TIMEOUT / 30)
        with self.lock:
            mono = time.monotonic()
            if self.last:
                self.gap = 0.8 * self.gap + 0.2 * min(mono - self.last, RESERVE_HOLD)
            self.last = mono
            while self.items:
                issued = self.items.popleft()
                if issued.expires_at - now >= timeout:
                    return issued
                # Waited too long: its row expires unused and is purged.
            # As many as this process hands out in half the hold time.
            count = max(1, min(conf.POOL_RESERVE, int(hold / 2 / self.gap)))
        fresh = fetch(count, now, hold if count > 1 else 0.0)
        if not fresh:
            return None
        if len(fresh) > 1:
            with self.lock:
                self.items.extend(fresh[1:])
        return fresh[0]


# Keyed by what decides where a challenge lives; emptied in forked children,
# which must not hand out their parent's challenges.
_reserves: dict[tuple[object, ...], _Reserve] = {}
_reserves_lock = threading.Lock()


def _reserve_for(store: Store, db: str) -> _Reserve:
    where = (
        type(store),
        getattr(store, "alias", None),
        store.database() if isinstance(store, DatabaseStore) else None,
        db,
        conf.IMAGE_SCALE,
        conf.TIMEOUT,
    )
    reserve = _reserves.get(where)
    if reserve is None:
        with _reserves_lock:
            reserve = _reserves.setdefault(where, _Reserve())
    return reserve


def forget_reserved() -> int:
    """Drop the challenges this process took ahead; return how many.

    Their rows stay live until they expire. The tests call it between tests,
    whose database rows do not outlive them.
    """
    with _reserves_lock:
        dropped = sum(len(reserve.items) for reserve in _reserves.values())
        _reserves.clear()
    return dropped


def _after_fork_in_child() -> None:
    # A new lock too: another thread of the parent may have held the old one.
    global _reserves_lock
    _reserves_lock = threading.Lock()
    _reserves.clear()


os.register_at_fork(after_in_child=_after_fork_in_child)


def supports_delete_returning(db: str) -> bool:
    """PostgreSQL and SQLite 3.35+ can delete a row and return it in one statement."""
    connection = connections[db]
    return connection.vendor in ("postgresql", "sqlite") and bool(
        connection.features.can_return_columns_from_insert
    )


def _take_returning(
    store: Store, db: str, count: int, now: datetime, hold: float
) -> list[Issued]:
    """Take up to ``count`` rows as live challenges; they expire ``hold`` s late."""
    connection = connections[db]
    qn = connection.ops.quote_name
    meta = PooledChallenge._meta
    table = qn(meta.db_table)
    pk, scale, answer, png, png_2x = (
        qn(meta.get_field(name).column)  # type: ignore[union-attr,arg-type]
        for name in ("id", "scale", "answer", "png", "png_2x")
    )
    # SQLite has one writer at a time, so the sub-select cannot race there;
    # on PostgreSQL concurrent takers skip each other's locked rows.
    skip = (
        " FOR UPDATE SKIP LOCKED"
        if connection.features.has_select_for_update_skip_locked
        else ""
    )
    pick = f"SELECT {pk} FROM {table} WHERE {scale} = %s ORDER BY {pk} LIMIT %s{skip}"
    # On PostgreSQL, = ANY(ARRAY(...)) picks the rows once (an InitPlan) and
    # deletes them by primary key, whatever the planner thinks of IN.
    where = (
        f"{pk} = ANY(ARRAY({pick}))"
        if connection.vendor == "postgresql"
        else f"{pk} IN ({pick})"
    )
    delete = f"DELETE FROM {table} WHERE {where} RETURNING {answer}, {png}, {png_2x}"
    if (
        connection.vendor == "postgresql"
        and isinstance(store, DatabaseStore)
        and store.database() == db
    ):
        # One statement, and the images never leave the database server. It
        # is its own transaction, relaxed as issuing() would relax it (a
        # transaction-local set_config() is SET LOCAL), in one round trip.
        relax = not connection.in_atomic_block and not conf.SYNCHRONOUS_COMMIT
        live = Challenge._meta
        columns = [
            qn(live.get_field(name).column)  # type: ignore[union-attr,arg-type]
            for name in ("key", "answer", "png", "png_2x", "created_at", "expires_at")
        ]
        keys = [new_key() for _ in range(count)]
        expires = now + timedelta(seconds=conf.TIMEOUT + hold)
        with connection.cursor() as cursor:
            cursor.execute(
                "WITH "
                + (
                    "relax AS (SELECT set_config('synchronous_commit', 'off', true)), "
                    if relax
                    else ""
                )
                + f"taken AS ({delete}), numbered AS (SELECT row_number() OVER () "
                f"AS n, {answer}, {png}, {png_2x} FROM taken) "
                f"INSERT INTO {qn(live.db_table)} ({', '.join(columns)}) "
                f"SELECT k.key, {answer}, {png}, {png_2x}, %s, %s FROM numbered "
                f"JOIN unnest(%s::text[]) WITH ORDINALITY AS k(key, n) USING (n)"
                f"{', relax' if relax else ''} "
                f"RETURNING {columns[0]}, {columns[1]}",
                [conf.IMAGE_SCALE, count, now, expires, keys],
            )
            rows = cursor.fetchall()
        return [
            # The sealed value moved as it was, baits and all.
            Issued(str(key), answer, now, expires)
            for (answer, _), key in _open([(sealed, key) for key, sealed in rows])
        ]
    with issuing(db):
        # The DELETE opens the transaction, so SQLite takes its write lock
        # first (waiting for it) rather than failing to upgrade a read lock.
        with connection.cursor() as cursor:
            cursor.execute(delete, [conf.IMAGE_SCALE, count])
            taken = cursor.fetchall()
        return _issue(store, taken, now, hold)


def _take_portable(store: Store, db: str) -> Issued | None:
    # Databases without DELETE ... RETURNING (MySQL): read, then delete.
    rows = PooledChallenge.objects.using(db).filter(scale=conf.IMAGE_SCALE)
    fields = ("pk", "answer", "png", "png_2x")
    if connections[db].features.has_select_for_update_skip_locked:
        with transaction.atomic(using=db):
            row = (
                rows.select_for_update(skip_locked=True)
                .order_by("pk")
                .values_list(*fields)
                .first()
            )
            if row is None:
                return None
            PooledChallenge.objects.using(db).filter(pk=row[0]).delete()
            return _issue(store, [row[1:]], timezone.now())[0]
    for _ in range(_TRIES):
        candidates = list(
            rows.order_by("pk").values_list("pk", flat=True)[:_CANDIDATES]
        )
        if not candidates:
            return None
        pk = secrets.choice(candidates)
        # Rows never change, so reading one before the DELETE is safe; reading
        # it outside the transaction keeps the transaction's first statement a
        # write.
        row = rows.filter(pk=pk).values_list(*fields).first()
        if row is None:
            continue
        with transaction.atomic(using=db):
            deleted, _ = PooledChallenge.objects.using(db).filter(pk=pk).delete()
            if deleted:
                return _issue(store, [row[1:]], timezone.now())[0]
    return None  # every try lost a race: the caller falls back as if empty


def fill(
    target: int | None = None,
    batch: int | None = None,
    using: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Render batches until the pool holds ``target`` rows; return how many made.

    Several fillers at once may overshoot by a batch each, never undershoot.
    Raises CaptchaUnavailable when the models cannot draw.
    """
    target = conf.POOL_SIZE if target is None else target
    batch = max(1, conf.POOL_BATCH if batch is None else batch)
    made = 0
    while (missing := target - size(using)) > 0:
        count = min(batch, missing)
        # Here, not at the top: pool-only web workers never render (Pillow).
        from gancaptcha_field.supply.render import render_answers

        made += put(render_answers([new_answer() for _ in range(count)]), using)
        if progress is not None:
            progress(made, target)
    return made


def watch(
    target: int,
    interval: float,
    stop: threading.Event,
    batch: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Keep the pool at ``target`` until ``stop`` is set; return how many made.

    A failed draw (say, models being replaced) or a database error is logged
    and retried after ``interval``: a producer must outlive such moments.
    """
    made = 0
    while not stop.is_set():
        try:
            made += fill(target, batch, progress=progress)
        except CaptchaUnavailable:
            logger.exception("GanCaptcha pool: could not draw; retrying")
        except DatabaseError:
            logger.exception("GanCaptcha pool: database error; retrying")
            connections.close_all()  # reconnect on the next try
        stop.wait(interval)
    return made


def _refill_worker() -> None:
    try:
        made = fill()
        logger.info("GanCaptcha pool: refilled with %d challenges", made)
    except DatabaseError as exc:
        # Say, a site started before `manage.py migrate`: no traceback for that.
        logger.warning(
            "GanCaptcha pool: background refill could not use the database "
            "(%s); has `manage.py migrate` run?",
            exc,
        )
    except Exception:  # never fatal: the next low-water check tries again
        logger.exception("GanCaptcha pool: background refill failed")
    finally:
        connections.close_all()  # this thread's own connections


def refill_in_background() -> bool:
    """Start this process's refill thread unless it is running; True if started."""
    global _refill_thread
    with _refill_lock:
        if _refill_thread is not None and _refill_thread.is_alive():
            return False
        _refill_thread = threading.Thread(
            target=_refill_worker, name="gancaptcha-pool-refill", daemon=True
        )
        _refill_thread.start()
        return True


def wait_for_refill(timeout: float | None = None) -> None:
    """Join the refill thread, if any (tests, and clean shutdowns)."""
    with _refill_lock:
        thread = _refill_thread
    if thread is not None:
        thread.join(timeout)


def refill_if_low(force_check: bool = False) -> bool:
    """Start a background refill when the pool is under GANCAPTCHA_POOL_LOW_WATER.

    Does nothing in pool-only processes (they never load the models), when
    GANCAPTCHA_POOL_AUTOFILL is off, or when this process looked less than
    CHECK_INTERVAL seconds ago (unless force_check). True if a refill started.
    """
    global _last_check
    if conf.POOL_SIZE <= 0 or conf.POOL_ONLY or not conf.POOL_AUTOFILL:
        return False
    now = time.monotonic()
    if not force_check and now - _last_check < CHECK_INTERVAL:
        return False
    _last_check = now
    if size() >= conf.POOL_LOW_WATER:
        return False
    return refill_in_background()
