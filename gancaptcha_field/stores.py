"""Where live challenges are kept: the database (default) or a Django cache.

Both stores make the same promise: a challenge is consumed at most once. In the
database the row count of one conditional DELETE decides; in a cache the result
of ``cache.delete()`` does (Redis, Memcached, local memory and the database
cache all report whether they deleted). The answer and images never change once
stored, so reading them before that decision is safe.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from django.core.cache import BaseCache, caches
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, connections, router, transaction

from gancaptcha_field.conf import conf
from gancaptcha_field.models import Challenge


class StoreError(DatabaseError):
    """The store could not be reached (a DatabaseError, so views catch both)."""


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


class Consumed(NamedTuple):
    """What consume() found: the answer if this call used the challenge up."""

    answer: str | None
    expired: bool


class Store(ABC):
    """The operations challenges.py needs; keys are checked by the caller."""

    @abstractmethod
    def save(self, issued: Issued, rendered: Rendered) -> None:
        """Keep a new live challenge until it expires or is consumed."""

    def save_many(self, challenges: list[tuple[Issued, Rendered]]) -> None:
        """save() each; stores with a batch write override this."""
        for issued, rendered in challenges:
            self.save(issued, rendered)

    @abstractmethod
    def get_png(self, key: str, hidpi: bool, now: datetime) -> bytes | None:
        """The image of a live challenge, or None."""

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
    def purge_expired(self, now: datetime) -> int:
        """Delete expired challenges; return how many."""


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
    relax = (
        connection.vendor == "postgresql"
        and not connection.in_atomic_block
        and not conf.SYNCHRONOUS_COMMIT
    )
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

    def _sql(self) -> tuple[Any, dict[str, str]]:
        """The connection, and the quoted table and column names."""
        connection = connections[self.database()]
        qn = connection.ops.quote_name
        meta = Challenge._meta
        names = {"table": qn(meta.db_table)}
        for name in ("key", "answer", "png", "png_2x", "created_at", "expires_at"):
            names[name] = qn(meta.get_field(name).column)  # type: ignore[union-attr,arg-type]
        return connection, names

    # The three calls on a page view's path are plain SQL: the ORM's query
    # building cost more than the queries themselves.

    def save(self, issued: Issued, rendered: Rendered) -> None:
        """Insert the row (in its own issuing() transaction unless in one)."""
        connection, n = self._sql()
        adapt = connection.ops.adapt_datetimefield_value
        # Within the pool's transaction already: no savepoint needed.
        outer = (
            nullcontext() if connection.in_atomic_block else issuing(self.database())
        )
        with outer, connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {n['table']} ({n['key']}, {n['answer']}, {n['png']}, "
                f"{n['png_2x']}, {n['created_at']}, {n['expires_at']}) "
                "VALUES (%s, %s, %s, %s, %s, %s)",
                [
                    issued.key,
                    issued.answer,
                    rendered.png,
                    rendered.png_2x,
                    adapt(issued.created_at),
                    adapt(issued.expires_at),
                ],
            )

    def _live_column(self, key: str, column: str, now: datetime) -> Any:
        connection, n = self._sql()
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {n[column]} FROM {n['table']} "
                f"WHERE {n['key']} = %s AND {n['expires_at']} > %s",
                [key, connection.ops.adapt_datetimefield_value(now)],
            )
            row = cursor.fetchone()
        return None if row is None else row[0]

    def get_png(self, key: str, hidpi: bool, now: datetime) -> bytes | None:
        """One indexed read of one column."""
        png = self._live_column(key, "png_2x" if hidpi else "png", now)
        # PostgreSQL hands back a memoryview, SQLite bytes.
        return None if png is None else bytes(png)

    def get_answer(self, key: str, now: datetime) -> str | None:
        """The answer column of a live row."""
        answer = self._live_column(key, "answer", now)
        return None if answer is None else str(answer)

    def consume(self, key: str, now: datetime) -> Consumed | None:
        """Read, then a conditional DELETE whose row count decides."""
        row = self._rows().filter(key=key).values_list("answer", "expires_at").first()
        if row is None:
            return None
        answer, expires_at = row
        deleted, _ = self._rows().filter(key=key, expires_at__gt=now).delete()
        if deleted:
            return Consumed(answer, expired=False)
        if expires_at <= now:
            # Expired rows are consumed too, so a second try says "unknown".
            self._rows().filter(key=key).delete()
            return Consumed(None, expired=True)
        return None  # a concurrent submission consumed it first

    def discard(self, key: str) -> None:
        """Delete the row."""
        self._rows().filter(key=key).delete()

    def purge_expired(self, now: datetime) -> int:
        """Delete every expired row."""
        deleted, _ = self._rows().filter(expires_at__lte=now).delete()
        return int(deleted)


class CacheStore(Store):
    """Challenges as cache entries: the answer, the 1x and the 2x image apart.

    Entries live twice GANCAPTCHA_TIMEOUT, so a late answer is told "expired"
    for a while rather than "unknown"; the expiry time kept with the answer
    decides what is live.
    """

    PREFIX = "gancaptcha:"

    def __init__(self, alias: str) -> None:
        self.alias = alias

    @property
    def cache(self) -> BaseCache:
        """The configured cache (Django keeps one per alias and thread)."""
        try:
            return caches[self.alias]
        except Exception as exc:  # InvalidCacheBackendError and friends
            raise ImproperlyConfigured(
                f"GANCAPTCHA_CACHE_ALIAS {self.alias!r} is not in CACHES."
            ) from exc

    def _keys(self, key: str) -> tuple[str, str, str]:
        base = f"{self.PREFIX}{key}"
        return f"{base}:a", f"{base}:1x", f"{base}:2x"

    def _call(self, method: str, *args: Any) -> Any:
        try:
            return getattr(self.cache, method)(*args)
        except ImproperlyConfigured:
            raise
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
            entries[answer_key] = (issued.answer, issued.expires_at.timestamp())
            entries[png_key] = rendered.png
            entries[png_2x_key] = rendered.png_2x
            lifetime = max(
                lifetime, (issued.expires_at - issued.created_at).total_seconds()
            )
        self._call("set_many", entries, max(1, math.ceil(2 * lifetime)))

    def _live_answer(self, entry: Any, now: datetime) -> str | None:
        if not isinstance(entry, tuple) or len(entry) != 2:
            return None
        answer, expires_ts = entry
        return str(answer) if expires_ts > now.timestamp() else None

    def get_png(self, key: str, hidpi: bool, now: datetime) -> bytes | None:
        """get_many of the answer (for the expiry) and one image."""
        answer_key, png_key, png_2x_key = self._keys(key)
        image_key = png_2x_key if hidpi else png_key
        found = self._call("get_many", [answer_key, image_key])
        if self._live_answer(found.get(answer_key), now) is None:
            return None
        png = found.get(image_key)
        return bytes(png) if png is not None else None

    def get_answer(self, key: str, now: datetime) -> str | None:
        """The answer entry, if live."""
        return self._live_answer(self._call("get", self._keys(key)[0]), now)

    def consume(self, key: str, now: datetime) -> Consumed | None:
        """Read, then delete(): only the caller whose delete() is True wins."""
        answer_key, *image_keys = self._keys(key)
        entry = self._call("get", answer_key)
        if entry is None:
            return None
        won = bool(self._call("delete", answer_key))
        self._call("delete_many", image_keys)
        if not won:
            return None
        answer = self._live_answer(entry, now)
        return Consumed(answer, expired=answer is None)

    def discard(self, key: str) -> None:
        """Delete all three entries."""
        self._call("delete_many", list(self._keys(key)))

    def purge_expired(self, now: datetime) -> int:
        """Nothing to do: the cache expires entries itself."""
        return 0


def get_store() -> Store:
    """The store GANCAPTCHA_STORE names, read on every call."""
    kind = conf.STORE
    if kind == "database":
        return DatabaseStore()
    if kind == "cache":
        return CacheStore(conf.CACHE_ALIAS)
    raise ImproperlyConfigured(
        f"GANCAPTCHA_STORE must be 'database' or 'cache', not {kind!r}."
    )
