"""Internal. The raw SQL of the challenge tables (Challenge and PooledChallenge), in one
place.

A page view's calls (issue, show the image, take from the pool) run plain SQL:
the ORM's query building cost more than the queries themselves. Each function
returns a statement with its table and column names quoted for ``connection``;
the docstring says which parameters it takes, in order. stores.py runs them.
"""

from __future__ import annotations

from typing import Any

from django.db import connections

from gancaptcha_field.models import Challenge, PooledChallenge

# The live table's columns, in the order insert_live() takes them.
LIVE_COLUMNS = ("key", "answer", "png", "png_2x", "created_at", "expires_at")


def _names(connection: Any, model: Any, fields: tuple[str, ...]) -> dict[str, str]:
    """The quoted table ("table") and column names of ``model``."""
    qn = connection.ops.quote_name
    meta = model._meta
    names = {"table": qn(meta.db_table)}
    for name in fields:
        names[name] = qn(meta.get_field(name).column)
    return names


def live_names(connection: Any) -> dict[str, str]:
    """The Challenge table's quoted names."""
    return _names(connection, Challenge, LIVE_COLUMNS)


def insert_live(connection: Any) -> str:
    """One live challenge: the LIVE_COLUMNS values (the answer sealed)."""
    n = live_names(connection)
    return (
        f"INSERT INTO {n['table']} ({', '.join(n[c] for c in LIVE_COLUMNS)}) "
        "VALUES (%s, %s, %s, %s, %s, %s)"
    )


def select_live(connection: Any, columns: tuple[str, ...]) -> str:
    """``columns`` of a live challenge: its key, and now (it expires after)."""
    n = live_names(connection)
    return (
        f"SELECT {', '.join(n[c] for c in columns)} FROM {n['table']} "
        f"WHERE {n['key']} = %s AND {n['expires_at']} > %s"
    )


def supports_delete_returning(db: str) -> bool:
    """PostgreSQL and SQLite 3.35+ can delete a row and return it in one statement."""
    connection = connections[db]
    return connection.vendor in ("postgresql", "sqlite") and bool(
        connection.features.can_return_columns_from_insert
    )


def take_pooled(connection: Any) -> str:
    """DELETE ... RETURNING (answer, png, png_2x) of the oldest pooled rows:
    the image scale, and how many at most."""
    n = _names(connection, PooledChallenge, ("id", "scale", "answer", "png", "png_2x"))
    # SQLite has one writer at a time, so the sub-select cannot race there;
    # on PostgreSQL concurrent takers skip each other's locked rows.
    skip = (
        " FOR UPDATE SKIP LOCKED"
        if connection.features.has_select_for_update_skip_locked
        else ""
    )
    pick = (
        f"SELECT {n['id']} FROM {n['table']} WHERE {n['scale']} = %s "
        f"ORDER BY {n['id']} LIMIT %s{skip}"
    )
    # On PostgreSQL, = ANY(ARRAY(...)) picks the rows once (an InitPlan) and
    # deletes them by primary key, whatever the planner thinks of IN.
    where = (
        f"{n['id']} = ANY(ARRAY({pick}))"
        if connection.vendor == "postgresql"
        else f"{n['id']} IN ({pick})"
    )
    return (
        f"DELETE FROM {n['table']} WHERE {where} "
        f"RETURNING {n['answer']}, {n['png']}, {n['png_2x']}"
    )


def take_pooled_into_live(connection: Any, relax: bool) -> str:
    """PostgreSQL: take_pooled()'s rows inserted as live challenges, in one
    statement, RETURNING (key, sealed answer): the image scale, how many at
    most, created_at, expires_at, and the keys (a text[] at least that long).

    ``relax``: the statement turns synchronous_commit off for its own
    transaction (a transaction-local set_config() is SET LOCAL), as
    stores.issuing() would, in the same round trip.
    """
    live = live_names(connection)
    pooled = _names(connection, PooledChallenge, ("answer", "png", "png_2x"))
    answer, png, png_2x = pooled["answer"], pooled["png"], pooled["png_2x"]
    return (
        "WITH "
        + (
            "relax AS (SELECT set_config('synchronous_commit', 'off', true)), "
            if relax
            else ""
        )
        + f"taken AS ({take_pooled(connection)}), numbered AS (SELECT "
        f"row_number() OVER () AS n, {answer}, {png}, {png_2x} FROM taken) "
        f"INSERT INTO {live['table']} "
        f"({', '.join(live[c] for c in LIVE_COLUMNS)}) "
        f"SELECT k.key, {answer}, {png}, {png_2x}, %s, %s FROM numbered "
        f"JOIN unnest(%s::text[]) WITH ORDINALITY AS k(key, n) USING (n)"
        f"{', relax' if relax else ''} "
        f"RETURNING {live['key']}, {live['answer']}"
    )
