"""Internal. The pre-rendered pool: challenges drawn in batches, each handed out once.

The pool is a table (PooledChallenge) whatever GANCAPTCHA_STORE says, so every
process of a site shares it. The store takes rows (Store.take_pooled in
stores.py, its SQL in sql.py): one DELETE ... RETURNING in the transaction
that stores the issued challenge (on PostgreSQL, with the database store's
INSERT in the same statement): concurrent takers on PostgreSQL skip each
other's locked rows (SKIP LOCKED), and SQLite has one writer at a time.
Databases without RETURNING read a row first and let the row count of a
conditional DELETE decide who got it; the loser tries another.

A busy process takes several rows in that one statement (up to
GANCAPTCHA_POOL["reserve"], as many as it hands out in a few seconds) and hands
them out one per visitor from memory, so most page views make no round trip
to take one. The rows are live challenges from the moment they are taken;
each stays reserved to this process and goes to one visitor only, with at
least GANCAPTCHA_TIMEOUT seconds left to live (they are stored with a few
seconds more, and dropped unused when they have waited that long). Only
committed rows are held: inside a transaction (ATOMIC_REQUESTS), which might
roll back, a process takes one row at a time. A forked child starts empty.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime, timedelta

from django.db import DatabaseError, connections, router
from django.utils import timezone

from gancaptcha_field import sealing, sql
from gancaptcha_field.conf import conf
from gancaptcha_field.models import PooledChallenge
from gancaptcha_field.stores import Issued, Rendered, Store
from gancaptcha_field.supply.answers import new_answer, new_key
from gancaptcha_field.supply.errors import CaptchaUnavailable

logger = logging.getLogger(__name__)

# A process looks at the pool's size at most this often (seconds) when deciding
# whether to refill, so a page view rarely pays for a COUNT.
CHECK_INTERVAL = 1.0

# A challenge taken ahead may wait this long in a process (at most a thirtieth
# of GANCAPTCHA_TIMEOUT), and is stored with that much more time to live.
RESERVE_HOLD = 10.0

# The most challenges a web worker's background refill draws per INSERT (at
# most GANCAPTCHA_POOL_BATCH). Visitors take them as soon as they are in;
# with 64 at a time, a worker whose pool ran dry drew on the spot for each
# visitor while its refill thread still held a batch back.
REFILL_BATCH = 8

# A web worker's background refill draws only while its process has handed
# out no challenge for this long (seconds): a draw costs a core more than a
# visitor does, and with it the workers served half what the peer does.
REFILL_QUIET = 0.3

# ... unless the pool holds less than this share of GANCAPTCHA_POOL["size"]:
# then it draws regardless, so steady load never drains the pool. A quarter
# of the default size lasts two busy workers several seconds, while the
# refills of both catch up.
REFILL_FLOOR = 0.25


class Pacer:
    """When a web worker's refill may draw: after a quiet spell, or when low.

    Thread-safe: ``taken()`` writes one float, which ``wait_turn()`` reads.
    The clock and the sleep are injected for the tests.
    """

    def __init__(
        self,
        quiet: float = REFILL_QUIET,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] = time.sleep,
    ) -> None:
        self.quiet = quiet
        self.clock = clock
        self.sleep = sleep
        self.last_take = -float("inf")

    def taken(self) -> None:
        """Note that this process just handed out a challenge."""
        self.last_take = self.clock()

    def wait_turn(self, low: Callable[[], bool]) -> int:
        """Return once no take happened for ``quiet`` s, or once ``low()`` is
        true (looked at before each wait); return how many waits it took."""
        waits = 0
        while not low():
            now = self.clock()
            # Compared with the wake-up time, not the idle time: float
            # rounding then cannot leave it sleeping ever shorter spells.
            wake = self.last_take + self.quiet
            if now >= wake:
                break
            self.sleep(wake - now)
            waits += 1
        return waits


pacer = Pacer()


def floor() -> int:
    """The pool's size under which a web worker's refill draws regardless."""
    return int(conf.POOL["size"] * REFILL_FLOOR)


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


def take(store: Store) -> Issued | None:
    """Hand one pooled challenge to the caller as a live one; None if empty.

    The store moves the row (Store.take_pooled): it leaves the pool in the
    transaction that stores the challenge, so a failure to store it puts the
    row back, and no row reaches two visitors.
    """
    pacer.taken()
    db = store.pool_database()
    if (
        not sql.supports_delete_returning(db)
        or connections[db].in_atomic_block
        or conf.POOL["reserve"] <= 1
    ):
        # One at a time: without RETURNING the store takes one row a call,
        # and rows taken ahead must be committed (this transaction may roll
        # back).
        taken = _take(store, 1, timezone.now(), 0.0)
        return taken[0] if taken else None
    return _reserve_for(store, db).take(
        lambda count, now, hold: _take(store, count, now, hold)
    )


def _take(store: Store, count: int, now: datetime, hold: float) -> list[Issued]:
    """Take up to ``count`` rows as live challenges; they expire ``hold`` s late."""
    expires = now + timedelta(seconds=conf.TIMEOUT + hold)
    return store.take_pooled([new_key() for _ in range(count)], now, expires)


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
            count = max(1, min(conf.POOL["reserve"], int(hold / 2 / self.gap)))
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
    where = (type(store), store.where(), db, conf.IMAGE_SCALE, conf.TIMEOUT)
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


def fill(
    target: int | None = None,
    batch: int | None = None,
    using: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    before_batch: Callable[[], object] | None = None,
) -> int:
    """Render batches until the pool holds ``target`` rows; return how many made.

    ``before_batch`` runs before each batch (a web worker's refill waits
    there for its turn). Several fillers at once may overshoot by a batch
    each, never undershoot. Raises CaptchaUnavailable when the models cannot
    draw.
    """
    target = conf.POOL["size"] if target is None else target
    batch = max(1, conf.POOL["batch"] if batch is None else batch)
    made = 0
    while (missing := target - size(using)) > 0:
        if before_batch is not None:
            before_batch()  # visitors only take: ``missing`` stays a lower bound
        count = min(batch, missing)
        # Here, not at the top: pool-only web workers never render (Pillow).
        from gancaptcha_field.supply.render import render_answers

        made += put(render_answers([new_answer() for _ in range(count)]), using)
        release_freed_memory()
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


def release_freed_memory() -> None:
    """Give the heap pages a batch freed back to the OS (glibc's malloc_trim).

    Each batch's arrays and images are freed, but glibc kept their pages, so a
    web worker that refilled stayed about 40 MiB larger for good. Without
    glibc, a no-op.
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return getattr(libc, "malloc_trim", None)


def _low_and_let_go() -> bool:
    """Whether the pool is under the floor; this thread's database connection
    is closed after each look, so a refill that waits out a long spell of
    traffic does not hold a connection of the site's for it."""
    try:
        return size() < floor()
    finally:
        connections.close_all()


def _refill_worker() -> None:
    try:
        # Yields to this process's visitors; the producer (captcha_fill_pool)
        # never does.
        made = fill(
            batch=min(conf.POOL["batch"], REFILL_BATCH),
            before_batch=lambda: pacer.wait_turn(_low_and_let_go),
        )
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
    """Start a background refill when the pool is under GANCAPTCHA_POOL["low_water"].

    Does nothing when this process looked less than CHECK_INTERVAL seconds
    ago (unless force_check). True if a refill started. Callers ask the
    source first (Source.refill_if_low): only a process that draws into the
    pool (GANCAPTCHA_POOL["autofill"]) may refill it.
    """
    global _last_check, _refill_thread
    now = time.monotonic()
    if not force_check and now - _last_check < CHECK_INTERVAL:
        return False
    _last_check = now
    with _refill_lock:
        ended = _refill_thread is not None and not _refill_thread.is_alive()
        if ended:
            _refill_thread = None
    if ended:
        # Only once the refill thread is gone are its buffers (ONNX Runtime's
        # per-thread ones among them) free to hand back.
        release_freed_memory()
    if size() >= conf.POOL["low_water"]:
        return False
    return refill_in_background()
