"""Copying a whole catalog into another database (SQLite ⇄ PostgreSQL), row for row.

Tables are copied parents first (foreign keys hold at every step), ids kept, in
batches; PostgreSQL's id sequences are then moved past the copied ids. The
target must hold no collection yet: a copy never merges two catalogs.
"""

from __future__ import annotations

from sqlalchemy import Integer, func, insert, select, text

from mnemo.catalog.db import Catalog
from mnemo.catalog.models import Base, Collection
from mnemo.errors import CatalogError

BATCH = 2_000


def table_counts(catalog: Catalog) -> dict[str, int]:
    """Rows in each of the catalog's tables."""
    with catalog.engine.connect() as connection:
        return {
            table.name: int(connection.scalar(select(func.count()).select_from(table)) or 0)
            for table in Base.metadata.sorted_tables
        }


def copy_catalog(source: Catalog, target: Catalog) -> dict[str, int]:
    """Copy every row of ``source`` into the empty ``target``; rows copied per table."""
    with target.session(readonly=True) as session:
        if session.scalar(select(func.count()).select_from(Collection)):
            raise CatalogError(
                f"{target.path}: already holds collections; migrate into an empty catalog "
                "(a new database), never into one in use"
            )
    copied: dict[str, int] = {}
    with source.engine.connect() as reading, target.engine.begin() as writing:
        for table in reversed(Base.metadata.sorted_tables):  # children first
            writing.execute(table.delete())  # rows a failed earlier attempt left
        for table in Base.metadata.sorted_tables:
            rows = 0
            result = reading.execution_options(stream_results=True).execute(select(table))
            while batch := result.fetchmany(BATCH):
                writing.execute(insert(table), [dict(row._mapping) for row in batch])
                rows += len(batch)
            copied[table.name] = rows
        if writing.dialect.name == "postgresql":
            _advance_sequences(writing)
    return copied


def _advance_sequences(connection: object) -> None:
    """Integer ids were copied explicitly: the sequences behind them must start after them."""
    for table in Base.metadata.sorted_tables:
        columns = list(table.primary_key.columns)
        if len(columns) == 1 and isinstance(columns[0].type, Integer):
            column = columns[0]
            # NULL (nothing done) when the column has no sequence.
            connection.execute(  # type: ignore[attr-defined]
                text(
                    "SELECT setval(pg_get_serial_sequence(:table, :column), "
                    f"COALESCE((SELECT MAX({column.name}) FROM {table.name}), 0) + 1, false)"
                ),
                {"table": table.name, "column": column.name},
            )
