"""Internal. Where live challenges are kept: the database (default) or a Django cache.

Both stores make the same promise: a challenge is consumed at most once. In the
database the row count of one conditional DELETE decides; in a cache the result
of ``cache.delete()`` does (Redis, Memcached, local memory and the database
cache all report whether they deleted). The answer and images never change once
stored, so reading them before that decision is safe.

Answers are stored sealed (sealing.py), never in plain text.

A store also takes pre-rendered challenges from the pool (take_pooled(), for
supply/pool.py): the rows leave the pool in the transaction that stores them.
The raw SQL of both tables is in sql.py.

A use is committed at once, whatever becomes of the caller's transaction: inside
a transaction the caller opened (``ATOMIC_REQUESTS``, ``atomic()``), consume()
and discard() run on a connection of their own that autocommits (``durably()``),
so a request that fails and rolls back cannot give its challenge back.
"""

from __future__ import annotations

import logging
import math
import os
import secrets
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Hashable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from django.core.cache import BaseCache, caches
from django.core.cache.backends.db import DatabaseCache
from django.db import DatabaseError, connections, router, transaction

from gancaptcha_field import sealing, sql
from gancaptcha_field.conf import conf
from gancaptcha_field.models import Challenge, PooledChallenge

logger = logging.getLogger(__name__)

T = TypeVar("T")

# How long a use committed on its own connection waits for a lock held by
# someone else (seconds). On SQLite the lock is the whole file, and the
# request's own transaction may hold it: then the wait ends in a refusal.
SIDE_LOCK_TIMEOUT = 2.0

# Most expired rows one purge statement deletes: a purge inside a visitor's
# request stays a bounded piece of work however many rows have piled up.
PURGE_BATCH = 500

# Without DELETE ... RETURNING or SKIP LOCKED, takers pick among the oldest few
# pooled rows at random, so concurrent takers rarely collide; a collision
# costs a try.
_CANDIDATES = 8
_TRIES = 32


class StoreError(DatabaseError):
    """The store could not be reached (a DatabaseError, so views catch both)."""


class StoreMisconfigured(StoreError):
    """GANCAPTCHA_STORE or GANCAPTCHA_CACHE_ALIAS is wrong (check E021, E022).

    A StoreError, so the views answer 503 with a log line rather than 500.
    """


class UseNotCommitted(StoreError):
    """The use of a challenge could not be committed apart from the caller."""


def in_callers_transaction(db: str) -> bool:
    """True inside a transaction the caller opened (not a test case's wrapper)."""
    connection = connections[db]
    return connection.in_atomic_block and any(
        not getattr(block, "_from_testcase", False)
        for block in connection.atomic_blocks
    )


# Threads have connections of their own (Django keeps one per alias and
# thread), in autocommit: their writes commit at once. Made on first use, and
# anew in a forked child, which inherits the executor but not its threads.
_side: ThreadPoolExecutor | None = None
_side_lock = threading.Lock()


def _side_executor() -> ThreadPoolExecutor:
    global _side
    with _side_lock:
        if _side is None:
            _side = ThreadPoolExecutor(
                max_workers=4, thread_name_prefix="gancaptcha-use"
            )
        return _side


def _forget_side_executor() -> None:
    global _side, _side_lock
    _side, _side_lock = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_side_executor)


def _on_side_connection(db: str, work: Callable[[], T]) -> T:
    connection = connections[db]
    connection.close_if_unusable_or_obsolete()
    connection.ensure_connection()
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(f"PRAGMA busy_timeout = {int(SIDE_LOCK_TIMEOUT * 1000)}")
        elif connection.vendor == "postgresql":
            cursor.execute(f"SET lock_timeout = {int(SIDE_LOCK_TIMEOUT * 1000)}")
    try:
        return work()
    finally:
        # As a request's end would: CONN_MAX_AGE decides whether it stays open.
        connection.close_if_unusable_or_obsolete()


def durably(db: str, work: Callable[[], T]) -> T:
    """Run work (which writes to db) so that its writes commit now.

    Outside a caller's transaction, here and now. Inside one, on a connection
    of its own that autocommits; a lock it cannot get within SIDE_LOCK_TIMEOUT
    raises a DatabaseError rather than hang.
    """
    if not in_callers_transaction(db):
        return work()
    return _side_executor().submit(_on_side_connection, db, work).result()


def cache_database(cache: BaseCache) -> str | None:
    """The database alias a DatabaseCache writes to; None for other caches."""
    if isinstance(cache, DatabaseCache):
        return str(router.db_for_write(cache.cache_model_class))
    return None


@dataclass(frozen=True)
class Issued:
    """A challenge handed to one visitor: its key, answer and lifetime."""

    key: str
    answer: str = field(repr=False)  # reprs reach logs and tracebacks
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class Rendered:
    """An answer and its images, not yet given a key."""

    answer: str = field(repr=False)  # reprs reach logs and tracebacks
    png: bytes
    png_2x: bytes
    # What stock solvers read in png where they misread it (GANCAPTCHA_TRAP).
    baits: tuple[str, ...] = field(default=(), repr=False)


@dataclass(frozen=True)
class Consumed:
    """What consume() found: the answer if this call used the challenge up."""

    answer: str | None = field(repr=False)  # reprs reach logs and tracebacks
    expired: bool
    baits: tuple[str, ...] = field(default=(), repr=False)  # the trap's


def _both(png: Any, png_2x: Any) -> tuple[bytes, bytes] | None:
    """A row's two images as bytes (PostgreSQL hands back memoryviews); an
    empty or missing 2x (a row stored without one) is the 1x. None: no 1x."""
    if png is None:
        return None
    png = bytes(png)
    return png, bytes(png_2x) if png_2x else png


def _consumed(opened: tuple[str, tuple[str, ...]] | None) -> Consumed:
    """A used-up challenge: its answer and baits, or expired (or unopenable)."""
    if opened is None:
        return Consumed(None, expired=True)
    return Consumed(opened[0], expired=False, baits=opened[1])


class Store(ABC):
    """The operations challenges.py needs; keys are checked by the caller."""

    @abstractmethod
    def save(self, issued: Issued, rendered: Rendered) -> None:
        """Keep a new live challenge until it expires or is consumed."""

    def save_many(self, challenges: list[tuple[Issued, Rendered]]) -> None:
        """save() each; stores with a batch write override this."""
        for issued, rendered in challenges:
            self.save(issued, rendered)

    def get_png(self, key: str, hidpi: bool, now: datetime) -> bytes | None:
        """The image (1x, or 2x for HiDPI) of a live challenge, or None."""
        if not hidpi:
            return self._get_1x(key, now)
        pngs = self.get_pngs(key, now)
        return None if pngs is None else pngs[1]

    @abstractmethod
    def _get_1x(self, key: str, now: datetime) -> bytes | None:
        """The 1x image of a live challenge, or None (the hot path: one read)."""

    @abstractmethod
    def get_pngs(self, key: str, now: datetime) -> tuple[bytes, bytes] | None:
        """Both images (1x, 2x) of a live challenge, or None, in one read;
        an empty 2x (a row stored without one) comes back as the 1x."""

    @abstractmethod
    def get_answer(self, key: str, now: datetime) -> str | None:
        """The answer of a live challenge without consuming it, or None."""

    @abstractmethod
    def consume(self, key: str, now: datetime) -> Consumed | None:
        """Remove the challenge; None if it was unknown or another caller won."""

    @abstractmethod
    def discard(self, key: str) -> None:
        """Remove the challenge if it exists."""

    @abstractmethod
    def purge_expired(self, now: datetime, limit: int | None = PURGE_BATCH) -> int:
        """Delete expired challenges, at most ``limit`` (None: all); how many."""

    @abstractmethod
    def where(self) -> Hashable:
        """Where this store keeps challenges: equal for stores that share them."""

    def pool_database(self) -> str:
        """The database alias of the pool this store takes from."""
        return str(router.db_for_write(PooledChallenge))

    def take_pooled(
        self, keys: Sequence[str], now: datetime, expires_at: datetime
    ) -> list[Issued]:
        """Move up to len(keys) pooled rows of the current image scale, oldest
        first, into this store as live challenges under ``keys``; [] if none.

        The rows leave the pool in the transaction that stores them, so a
        failure to store puts them back, and no row reaches two visitors.
        Databases without DELETE ... RETURNING take one row a call.
        """
        db = self.pool_database()
        if not sql.supports_delete_returning(db):
            return self._take_pooled_portable(db, keys[0], now, expires_at)
        connection = connections[db]
        with issuing(db):
            # The DELETE opens the transaction, so SQLite takes its write lock
            # first (waiting for it) rather than failing to upgrade a read lock.
            with connection.cursor() as cursor:
                cursor.execute(
                    sql.take_pooled(connection), [conf.IMAGE_SCALE, len(keys)]
                )
                taken = cursor.fetchall()
            return self._save_pooled(taken, keys, now, expires_at)

    def _take_pooled_portable(
        self, db: str, key: str, now: datetime, expires_at: datetime
    ) -> list[Issued]:
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
                    return []
                PooledChallenge.objects.using(db).filter(pk=row[0]).delete()
                return self._save_pooled([row[1:]], [key], now, expires_at)
        for _ in range(_TRIES):
            candidates = list(
                rows.order_by("pk").values_list("pk", flat=True)[:_CANDIDATES]
            )
            if not candidates:
                return []
            pk = secrets.choice(candidates)
            # Rows never change, so reading one before the DELETE is safe;
            # reading it outside the transaction keeps the transaction's first
            # statement a write.
            row = rows.filter(pk=pk).values_list(*fields).first()
            if row is None:
                continue
            with transaction.atomic(using=db):
                deleted, _ = PooledChallenge.objects.using(db).filter(pk=pk).delete()
                if deleted:
                    return self._save_pooled([row[1:]], [key], now, expires_at)
        return []  # every try lost a race: the caller falls back as if empty

    def _save_pooled(
        self,
        rows: Sequence[Sequence[Any]],
        keys: Sequence[str],
        now: datetime,
        expires_at: datetime,
    ) -> list[Issued]:
        """Store pooled rows (sealed answer, png, png_2x) under ``keys``, at once."""
        opened = _open_pooled([(sealed, (png, png_2x)) for sealed, png, png_2x in rows])
        issued = [
            (Issued(key, answer, now, expires_at), baits, images)
            for key, ((answer, baits), images) in zip(keys, opened, strict=False)
        ]
        # PostgreSQL hands back memoryviews.
        self.save_many(
            [
                (one, Rendered(one.answer, bytes(png), bytes(png_2x), baits))
                for one, baits, (png, png_2x) in issued
            ]
        )
        return [one for one, _, _ in issued]


def _open_pooled(
    rows: Sequence[tuple[object, Any]],
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


def _relaxed(connection: Any) -> bool:
    """True when issuing on ``connection`` need not wait for the disk (issuing())."""
    return (
        connection.vendor == "postgresql"
        and not connection.in_atomic_block
        and not conf.SYNCHRONOUS_COMMIT
    )


@contextmanager
def issuing(db: str) -> Iterator[None]:
    """The transaction that issues a challenge.

    On PostgreSQL it does not wait for its commit to reach disk (unless
    GANCAPTCHA_SYNCHRONOUS_COMMIT): a page view then costs no fsync (about
    6 ms on the benchmark machine). A database crash can lose the last moments
    of issued challenges, whose visitors reload the page. Inside someone
    else's transaction (ATOMIC_REQUESTS) it changes nothing.
    """
    connection = connections[db]
    relax = _relaxed(connection)
    with transaction.atomic(using=db):
        if relax:
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
        yield


class DatabaseStore(Store):
    """Challenges as rows of the Challenge table."""

    def __init__(self, using: str | None = None) -> None:
        self.using = using

    def database(self) -> str:
        """The alias this store reads and writes."""
        # Reads go where writes go: a challenge is read back within
        # milliseconds of being written, sooner than a replica may see it.
        return self.using or router.db_for_write(Challenge)

    def _rows(self) -> Any:
        return Challenge.objects.using(self.database())

    def where(self) -> Hashable:
        """The database alias."""
        return ("database", self.database())

    def pool_database(self) -> str:
        """Its own database: the pool moves rows within one database."""
        return self.database()

    # The calls on a page view's path are plain SQL (sql.py).

    def save(self, issued: Issued, rendered: Rendered) -> None:
        """Insert the row (in its own issuing() transaction unless in one)."""
        connection = connections[self.database()]
        adapt = connection.ops.adapt_datetimefield_value
        # Within the pool's transaction already: no savepoint needed.
        outer = (
            nullcontext() if connection.in_atomic_block else issuing(self.database())
        )
        with outer, connection.cursor() as cursor:
            cursor.execute(
                sql.insert_live(connection),
                [
                    issued.key,
                    sealing.seal(issued.answer, rendered.baits),
                    rendered.png,
                    rendered.png_2x,
                    adapt(issued.created_at),
                    adapt(issued.expires_at),
                ],
            )

    def take_pooled(
        self, keys: Sequence[str], now: datetime, expires_at: datetime
    ) -> list[Issued]:
        """On PostgreSQL, one statement: the images never leave the database
        server. It is its own transaction, relaxed as issuing() would relax
        it, in one round trip. Elsewhere, as Store.take_pooled()."""
        db = self.database()
        connection = connections[db]
        if connection.vendor != "postgresql" or not sql.supports_delete_returning(db):
            return super().take_pooled(keys, now, expires_at)
        with connection.cursor() as cursor:
            cursor.execute(
                sql.take_pooled_into_live(connection, relax=_relaxed(connection)),
                [conf.IMAGE_SCALE, len(keys), now, expires_at, list(keys)],
            )
            rows = cursor.fetchall()
        return [
            # The sealed value moved as it was, baits and all.
            Issued(str(key), answer, now, expires_at)
            for (answer, _), key in _open_pooled(
                [(sealed, key) for key, sealed in rows]
            )
        ]

    def _live_columns(self, key: str, columns: tuple[str, ...], now: datetime) -> Any:
        connection = connections[self.database()]
        with connection.cursor() as cursor:
            cursor.execute(
                sql.select_live(connection, columns),
                [key, connection.ops.adapt_datetimefield_value(now)],
            )
            return cursor.fetchone()

    def _live_column(self, key: str, column: str, now: datetime) -> Any:
        row = self._live_columns(key, (column,), now)
        return None if row is None else row[0]

    def _get_1x(self, key: str, now: datetime) -> bytes | None:
        """One indexed read of one column."""
        png = self._live_column(key, "png", now)
        # PostgreSQL hands back a memoryview, SQLite bytes.
        return None if png is None else bytes(png)

    def get_pngs(self, key: str, now: datetime) -> tuple[bytes, bytes] | None:
        """One indexed read of both image columns."""
        row = self._live_columns(key, ("png", "png_2x"), now)
        return None if row is None else _both(row[0], row[1])

    def get_answer(self, key: str, now: datetime) -> str | None:
        """The answer column of a live row."""
        return sealing.unseal(self._live_column(key, "answer", now))

    def consume(self, key: str, now: datetime) -> Consumed | None:
        """Read, then a conditional DELETE whose row count decides; committed now.

        Inside the caller's transaction the DELETE commits on a connection of
        its own. A row that connection cannot see was made in the caller's
        own transaction, whose rollback would take it away anyway: it is
        consumed here. If the use cannot be committed (a lock: SQLite, whose
        lock is the whole file), the row is deleted here as well and
        UseNotCommitted is raised, so the answer is refused, never passed.
        """
        db = self.database()
        if not in_callers_transaction(db):
            return self._consume(key, now)
        found = self._commit_now(db, key, "use", lambda: self._consume(key, now))
        return found if found is not None else self._consume(key, now)

    def _commit_now(self, db: str, key: str, what: str, work: Callable[[], T]) -> T:
        """durably(work); if it cannot commit, delete here too and refuse."""
        try:
            return durably(db, work)
        except DatabaseError as exc:
            logger.error(
                "GanCaptcha: could not commit the %s of a challenge outside the "
                "request's transaction on database %r (%s); refusing the answer. "
                "On SQLite, check the CAPTCHA before the view reads or writes the "
                "database, or see docs/security.md (ATOMIC_REQUESTS).",
                what,
                db,
                exc,
            )
            self._rows().filter(key=key).delete()
            raise UseNotCommitted(str(exc)) from exc

    def _consume(self, key: str, now: datetime) -> Consumed | None:
        row = self._rows().filter(key=key).values_list("answer", "expires_at").first()
        if row is None:
            return None
        sealed, expires_at = row
        deleted, _ = self._rows().filter(key=key, expires_at__gt=now).delete()
        if deleted:
            return _consumed(sealing.open_sealed(sealed))
        if expires_at <= now:
            # Expired rows are consumed too, so a second try says "unknown".
            self._rows().filter(key=key).delete()
            return Consumed(None, expired=True)
        return None  # a concurrent submission consumed it first

    def discard(self, key: str) -> None:
        """Delete the row, committed now (see consume())."""
        db = self.database()
        self._commit_now(
            db, key, "discard", lambda: self._rows().filter(key=key).delete()
        )
        if in_callers_transaction(db):
            # Made in the caller's own transaction: invisible to the other one.
            self._rows().filter(key=key).delete()

    def purge_expired(self, now: datetime, limit: int | None = PURGE_BATCH) -> int:
        """Delete expired rows by key, PURGE_BATCH per statement, up to ``limit``.

        Each batch is committed at once (see consume()).
        """
        total = 0
        while limit is None or total < limit:
            size = PURGE_BATCH if limit is None else min(PURGE_BATCH, limit - total)

            def batch(size: int = size) -> int:
                expired = self._rows().filter(expires_at__lte=now)
                # Keys first, then a DELETE of those: portable (no LIMIT in DELETE).
                keys = list(expired.values_list("pk", flat=True)[:size])
                if not keys:
                    return 0
                deleted, _ = expired.filter(pk__in=keys).delete()
                return int(deleted)

            deleted = durably(self.database(), batch)
            total += deleted
            if deleted < size:
                break
        return total


class CacheStore(Store):
    """Challenges as cache entries: the answer, the 1x and the 2x image apart.

    Entries live twice GANCAPTCHA_TIMEOUT, so a late answer is told "expired"
    for a while rather than "unknown"; the expiry time kept with the answer
    decides what is live.
    """

    PREFIX = "gancaptcha:"

    def __init__(self, alias: str) -> None:
        self.alias = alias

    def where(self) -> Hashable:
        """The cache alias."""
        return ("cache", self.alias)

    @property
    def cache(self) -> BaseCache:
        """The configured cache (Django keeps one per alias and thread)."""
        try:
            return caches[self.alias]
        except Exception as exc:  # InvalidCacheBackendError and friends
            raise StoreMisconfigured(
                f"GANCAPTCHA_CACHE_ALIAS {self.alias!r} is not in CACHES."
            ) from exc

    def _keys(self, key: str) -> tuple[str, str, str]:
        base = f"{self.PREFIX}{key}"
        return f"{base}:a", f"{base}:1x", f"{base}:2x"

    def _call(self, method: str, *args: Any) -> Any:
        cache = self.cache
        try:
            return getattr(cache, method)(*args)
        except Exception as exc:  # redis.ConnectionError, pymemcache errors, ...
            raise StoreError(f"cache {self.alias!r} failed: {exc}") from exc

    def save(self, issued: Issued, rendered: Rendered) -> None:
        """set_many: one round trip on Redis."""
        self.save_many([(issued, rendered)])

    def save_many(self, challenges: list[tuple[Issued, Rendered]]) -> None:
        """One set_many (one round trip on Redis) for all of them."""
        if not challenges:
            return
        entries: dict[str, Any] = {}
        lifetime = 0.0
        for issued, rendered in challenges:
            answer_key, png_key, png_2x_key = self._keys(issued.key)
            entries[answer_key] = (
                sealing.seal(issued.answer, rendered.baits),
                issued.expires_at.timestamp(),
            )
            entries[png_key] = rendered.png
            entries[png_2x_key] = rendered.png_2x
            lifetime = max(
                lifetime, (issued.expires_at - issued.created_at).total_seconds()
            )
        self._call("set_many", entries, max(1, math.ceil(2 * lifetime)))

    def _live_entry(
        self, entry: Any, now: datetime
    ) -> tuple[str, tuple[str, ...]] | None:
        """(answer, baits) of a cached (sealed, expiry) entry still live."""
        if not isinstance(entry, tuple) or len(entry) != 2:
            return None
        sealed, expires_ts = entry
        return sealing.open_sealed(sealed) if expires_ts > now.timestamp() else None

    def _live_answer(self, entry: Any, now: datetime) -> str | None:
        opened = self._live_entry(entry, now)
        return None if opened is None else opened[0]

    def _get_1x(self, key: str, now: datetime) -> bytes | None:
        """get_many of the answer (for the expiry) and the 1x image."""
        answer_key, png_key, _ = self._keys(key)
        found = self._call("get_many", [answer_key, png_key])
        if self._live_answer(found.get(answer_key), now) is None:
            return None
        png = found.get(png_key)
        return bytes(png) if png is not None else None

    def get_pngs(self, key: str, now: datetime) -> tuple[bytes, bytes] | None:
        """One get_many of the answer (for the expiry) and both images."""
        answer_key, png_key, png_2x_key = self._keys(key)
        found = self._call("get_many", [answer_key, png_key, png_2x_key])
        if self._live_answer(found.get(answer_key), now) is None:
            return None
        return _both(found.get(png_key), found.get(png_2x_key))

    def get_answer(self, key: str, now: datetime) -> str | None:
        """The answer entry, if live."""
        return self._live_answer(self._call("get", self._keys(key)[0]), now)

    def _durably(self, work: Callable[[], T]) -> T:
        # A DatabaseCache writes in the caller's transaction unless told not to.
        db = cache_database(self.cache)
        if db is None:
            return work()
        try:
            return durably(db, work)
        except DatabaseError as exc:
            logger.error(
                "GanCaptcha: could not commit the use of a challenge in the "
                "database cache %r outside the request's transaction (%s); "
                "refusing the answer.",
                self.alias,
                exc,
            )
            raise UseNotCommitted(str(exc)) from exc

    def consume(self, key: str, now: datetime) -> Consumed | None:
        """Read, then delete(): only the caller whose delete() is True wins."""
        return self._durably(lambda: self._consume(key, now))

    def _consume(self, key: str, now: datetime) -> Consumed | None:
        answer_key, *image_keys = self._keys(key)
        entry = self._call("get", answer_key)
        if entry is None:
            return None
        won = bool(self._call("delete", answer_key))
        self._call("delete_many", image_keys)
        if not won:
            return None
        return _consumed(self._live_entry(entry, now))

    def discard(self, key: str) -> None:
        """Delete all three entries."""
        self._durably(lambda: self._call("delete_many", list(self._keys(key))))

    def purge_expired(self, now: datetime, limit: int | None = PURGE_BATCH) -> int:
        """Nothing to do: the cache expires entries itself."""
        return 0


def get_store() -> Store:
    """The store GANCAPTCHA_STORE names, read on every call."""
    kind = conf.STORE
    if kind == "database":
        return DatabaseStore()
    if kind == "cache":
        return CacheStore(conf.CACHE_ALIAS)
    raise StoreMisconfigured(
        "GANCAPTCHA_STORE must be 'database' or 'cache' (system check E021)."
    )
