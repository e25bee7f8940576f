"""Moving records through curation shard by shard: replaying the input, packing small shards into
executor batches, and coalescing small outputs (filters/pipeline.py's passes use these).

`shards` is a callable returning a fresh iterator over the same tables each time; every table is
conformed to the record SCHEMA, and a later pass checks that the shards did not change.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

import pyarrow as pa

from taskmill.records import SCHEMA


def conform(table: pa.Table) -> pa.Table:
    """The table with exactly the record SCHEMA's columns, in order; ValueError naming the missing ones."""
    if table.schema.equals(SCHEMA):
        return table
    missing = [name for name in SCHEMA.names if name not in table.column_names]
    if missing:
        raise ValueError(f"curate: shard lacks record columns {missing}")
    return table.select(SCHEMA.names).cast(SCHEMA)


def iter_shards(shards: Callable[[], Iterator[pa.Table]], sizes: list[int] | None = None) -> Iterator[tuple[int, int, pa.Table]]:
    """(shard number, position of its first row, table); later passes check the shards did not change."""
    start = 0
    for number, table in enumerate(shards()):
        table = conform(table)
        if sizes is not None and (number >= len(sizes) or sizes[number] != table.num_rows):
            raise RuntimeError(f"curate: shard {number} changed between passes; `shards` must replay the same input")
        yield number, start, table
        start += table.num_rows


def pack_batches(pending: list[tuple[int, int, pa.Table]], batch_size: int) -> list[tuple[int, pa.Table, int]]:
    """(position of the first row, batch, its first shard's number): consecutive shards cut and packed
    into batches of at most `batch_size` rows. A run of many small shards (Bonito writes one per two
    passages) then costs one executor task per batch, not one per shard. Rows stay in input order, so
    a batch's row i is at position start + i."""
    batches: list[tuple[int, pa.Table, int]] = []
    parts: list[pa.Table] = []
    rows = first_start = first_number = 0
    for number, start, table in pending:
        for offset in range(0, table.num_rows, batch_size):
            piece = table.slice(offset, batch_size)
            if parts and rows + piece.num_rows > batch_size:
                batches.append((first_start, pa.concat_tables(parts), first_number))
                parts, rows = [], 0
            if not parts:
                first_start, first_number = start + offset, number
            parts.append(piece)
            rows += piece.num_rows
    if parts:
        batches.append((first_start, pa.concat_tables(parts), first_number))
    return batches


class Coalesce:
    """Passes tables on to `sink` in runs of at least `rows` rows (in order), so that many small input
    shards do not become as many small output shards; `close()` sends the rest."""

    def __init__(self, sink: Callable[[pa.Table], Any], rows: int):
        self.sink, self.rows, self.parts, self.count = sink, rows, [], 0

    def __call__(self, table: pa.Table) -> None:
        self.parts.append(table)
        self.count += table.num_rows
        if self.count >= self.rows:
            self.close()

    def close(self) -> None:
        if self.parts:
            self.sink(pa.concat_tables(self.parts))
            self.parts, self.count = [], 0


__all__ = ["Coalesce", "conform", "iter_shards", "pack_batches"]
