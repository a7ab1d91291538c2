"""Single-row writes without the QuerySet machinery, for the few statements on a hot path.

Building a query through the ORM costs a few hundred microseconds of Python per statement;
a sign-in makes several, next to a 20 ms password hash that is meant to be nearly all of
its cost (bench/login.py). These helpers take their column names and value conversions
from the model's own fields, so they stay in step with the model and its migrations.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from django.db import connection
from django.db.models import Model


@cache
def _insert_sql(model: type[Model], columns: tuple[str, ...], vendor: str) -> str:
    quote = connection.ops.quote_name
    names = ", ".join(quote(model._meta.get_field(c).column) for c in columns)
    marks = ", ".join(["%s"] * len(columns))
    return f"INSERT INTO {quote(model._meta.db_table)} ({names}) VALUES ({marks})"  # noqa: S608


@cache
def _update_sql(model: type[Model], columns: tuple[str, ...], vendor: str) -> str:
    quote = connection.ops.quote_name
    sets = ", ".join(f"{quote(model._meta.get_field(c).column)} = %s" for c in columns)
    pk = quote(model._meta.pk.column)
    return f"UPDATE {quote(model._meta.db_table)} SET {sets} WHERE {pk} = %s"  # noqa: S608


def _params(model: type[Model], values: dict[str, Any]) -> list[Any]:
    return [
        model._meta.get_field(name).get_db_prep_save(value, connection)
        for name, value in values.items()
    ]


def insert(model: type[Model], **values: Any) -> None:
    """INSERT one row (no defaults filled in, no signals): pass every column you need."""
    sql = _insert_sql(model, tuple(values), connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(sql, _params(model, values))


def update(model: type[Model], pk: Any, **values: Any) -> int:
    """UPDATE some columns of one row by primary key; returns the number of rows changed."""
    sql = _update_sql(model, tuple(values), connection.vendor)
    with connection.cursor() as cursor:
        key = model._meta.pk.get_db_prep_value(pk, connection)
        cursor.execute(sql, [*_params(model, values), key])
        return cursor.rowcount


def update_many(model: type[Model], columns: tuple[str, ...], rows: list[tuple[Any, dict]]) -> None:
    """UPDATE the same columns of many rows by primary key, as one prepared statement run
    for every row (SQLite reuses it; psycopg pipelines it). Django's bulk_update builds one
    CASE expression per column over all rows instead, which grows slow with the batch."""
    if not rows:
        return
    sql = _update_sql(model, columns, connection.vendor)
    fields = [model._meta.get_field(c) for c in columns]
    pk = model._meta.pk
    params = [
        [f.get_db_prep_save(values[f.name], connection) for f in fields]
        + [pk.get_db_prep_value(key, connection)]
        for key, values in rows
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)
