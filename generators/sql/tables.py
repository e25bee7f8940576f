"""Tables for SQL-execution tasks: loading and normalization.

Every source (CSV, Parquet, SQLite, DuckDB, bundled) is reduced to a header
and rows of raw Python values, then `build_table` normalizes them once: cells
become lower-cased single-line display strings (the exact text the model
sees and the SQLite text column holds), and each column gets a type
(`number`, `text` or `date`, see `cells`). Number columns also keep parsed
floats, which become the REAL `cK_number` column. Doing this once per table
keeps the display and the executed data identical by construction.
"""

from __future__ import annotations

import csv
import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Iterable, Sequence

from generators.sql.cells import (  # noqa: F401  (re-exported: the cell API used by tests and the checker)
    COLUMN_TYPES,
    DATE,
    column_cells,
    display_cell,
    infer_type,
    normalize_text,
    parse_number,
    tidy_number,
    valid_date,
)


@dataclass
class Column:
    header: str  # display name: normalized, lower-cased, unique in its table
    type: str  # number | text | date
    sql_name: str  # c1, c2, ... (the executable SQL never sees headers)
    cells: list[str | None]  # display text per row; None = NULL
    numbers: list[float | None] | None = None  # parsed values of number columns
    integral: bool = False  # every number is a whole number: literals are ints
    decimals: int = 0  # digits after the point, for range literals

    @cached_property
    def row_values(self) -> list[Any]:
        """Per row: the literal a query would bind for this cell (int/float for numbers), or None."""
        if self.type != "number":
            return list(self.cells)
        assert self.numbers is not None
        return [None if n is None else (int(n) if self.integral else n) for n in self.numbers]

    @cached_property
    def values(self) -> list[Any]:
        return [v for v in self.row_values if v is not None]

    @cached_property
    def bounds(self) -> tuple[Any, Any] | None:
        """(min, max) over the whole table, for range literals; None for text."""
        values = self.values
        if self.type == "date":  # an overridden date column may hold cells that are not ISO dates
            values = [v for v in values if (m := DATE.fullmatch(v)) and valid_date(m.group(1))]
        if self.type == "text" or not values:
            return None
        return min(values), max(values)

    @property
    def num_name(self) -> str:
        """The column compared, ordered and aggregated: REAL twin for numbers."""
        return self.sql_name + "_number" if self.type == "number" else self.sql_name


@dataclass
class Table:
    table_id: str
    columns: list[Column]
    n_rows: int
    notes: list[str] = field(default_factory=list)  # columns dropped and why

    @property
    def header(self) -> list[str]:
        return [c.header for c in self.columns]

    def row(self, index: int) -> list[str]:
        return ["" if c.cells[index] is None else c.cells[index] for c in self.columns]

    @cached_property
    def type_counts(self) -> dict[str, int]:
        return {t: sum(1 for c in self.columns if c.type == t) for t in COLUMN_TYPES}


def _unique_headers(raw: Iterable[Any], max_chars: int) -> list[str]:
    seen: set[str] = set()
    out = []
    for index, name in enumerate(raw, start=1):
        base = display_cell(name, max_chars) or f"column {index}"
        header, k = base, 2
        while header in seen:
            header, k = f"{base} {k}", k + 1
        seen.add(header)
        out.append(header)
    return out


def check_column_types(table_id: str, header: Sequence[Any], column_types: dict[str, str] | None, max_cell_chars: int = 80) -> None:
    """Raise ValueError when a `column_types` key names no column of the header (compared as build_table does)."""
    headers = _unique_headers(header, max_cell_chars)
    overrides = {normalize_text(str(k), max_cell_chars) for k in (column_types or {})}
    unknown = sorted(overrides - set(headers))
    if unknown:
        raise ValueError(f"column_types: no column named {unknown} in table {table_id!r}; columns: {headers}")


def build_table(
    table_id: str,
    header: Sequence[Any],
    rows: Iterable[Sequence[Any]],
    *,
    typed: bool = False,
    column_types: dict[str, str] | None = None,
    drop_columns: Sequence[str] = ("id", "agg"),
    max_columns: int = 12,
    max_rows: int = 5000,
    max_cell_chars: int = 80,
    strict_overrides: bool = False,
) -> Table:
    """Normalize one table. `typed`: values carry their source types (Parquet, SQLite, DuckDB),
    else every cell is text to infer from (CSV). `column_types` keys are header names (any case)."""
    headers = _unique_headers(header, max_cell_chars)
    width = len(headers)
    raw_columns: list[list[Any]] = [[] for _ in headers]
    n_rows = 0
    for raw in rows:
        if n_rows >= max_rows:
            break
        for j in range(width):
            raw_columns[j].append(raw[j] if j < len(raw) else None)
        n_rows += 1
    overrides = {normalize_text(str(k), max_cell_chars): v for k, v in (column_types or {}).items()}
    if strict_overrides:
        check_column_types(table_id, header, column_types, max_cell_chars)
    for name, kind in overrides.items():
        if kind not in COLUMN_TYPES:
            raise ValueError(f"column_types[{name!r}]: {kind!r} is not one of {list(COLUMN_TYPES)}")
    drop = {normalize_text(d, max_cell_chars) for d in drop_columns}
    notes: list[str] = []
    columns: list[Column] = []
    for header_name, raw_cells in zip(headers, raw_columns):
        if header_name in drop:
            notes.append(f"dropped {header_name!r}: helper column")
            continue
        if len(columns) >= max_columns:
            notes.append(f"dropped {header_name!r}: beyond max_columns={max_columns}")
            continue
        cells, inferred = column_cells(raw_cells, typed, max_cell_chars)
        if all(c is None for c in cells):
            notes.append(f"dropped {header_name!r}: no values")
            continue
        kind = overrides.get(header_name) or inferred
        if kind == "number" and not typed:
            cells = [None if c is None else tidy_number(c) for c in cells]
        column = Column(header=header_name, type=kind, sql_name=f"c{len(columns) + 1}", cells=cells)
        if kind == "number":
            _attach_numbers(column)
        columns.append(column)
    return Table(table_id=table_id, columns=columns, n_rows=n_rows, notes=notes)


def _attach_numbers(column: Column) -> None:
    numbers = [None if c is None else parse_number(c) for c in column.cells]
    present = [(c, n) for c, n in zip(column.cells, numbers) if n is not None]
    column.numbers = numbers
    # Whole numbers bind as ints, as long as they are exact in a float and fit SQLite's int64.
    column.integral = bool(present) and all(n.is_integer() and abs(n) < 2**53 for _, n in present)
    column.decimals = min(4, max((len(c.partition(".")[2]) for c, _ in present if "e" not in c), default=0))


# ---- file sources: each returns [(table name, header, rows)] -------------------------------


def _guess_delimiter(path: str | Path, notes: list[str] | None) -> str:
    """The shared rule (`taskmill.csv_tables.guess_delimiter`): the report and preflight read tables the same way."""
    from taskmill.csv_tables import guess_delimiter

    return guess_delimiter(str(path), notes)


def read_csv(
    path: str | Path, delimiter: str | None = ",", max_rows: int | None = None, notes: list[str] | None = None
) -> tuple[list[str], list[list[str]]]:
    """Header and rows of a CSV file. Blank lines are not rows; a row whose field count differs
    from the header's is skipped (its columns would be misaligned) and noted with its line number.
    `delimiter=None`: guessed (`_guess_delimiter`): a comma, or the `;`/tab/`|`/space a header without commas uses.

    Raises ValueError naming the file and line for text the csv module cannot read.
    """
    delimiter = delimiter or _guess_delimiter(path, notes)
    rows: list[list[str]] = []
    ragged: list[int] = []
    undecodable = 0  # rows holding bytes that are not UTF-8 (read as U+FFFD)
    with open(path, newline="", encoding="utf-8-sig", errors="replace") as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        try:
            header = next(reader, [])
            for row in reader:
                if max_rows is not None and len(rows) >= max_rows:
                    break
                if not row:
                    continue
                if len(row) != len(header):
                    ragged.append(reader.line_num)
                    continue
                undecodable += any("\ufffd" in cell for cell in row)
                rows.append(row)
        except csv.Error as error:
            raise ValueError(f"{path}, line {reader.line_num}: {error}") from None
    if ragged and notes is not None:
        lines = ", ".join(map(str, ragged[:10])) + (", ..." if len(ragged) > 10 else "")
        notes.append(f"skipped {len(ragged)} rows of {path} with a field count other than the header's "
                     f"{len(header)} (lines {lines})")  # fmt: skip
    if undecodable and notes is not None:
        notes.append(f"{undecodable} rows of {path} hold bytes that are not UTF-8, shown as U+FFFD")
    return header, rows


def read_parquet(path: str | Path, max_rows: int | None = None) -> tuple[list[str], list[list[Any]]]:
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    if max_rows is not None:
        table = table.slice(0, max_rows)
    columns = [table.column(i).to_pylist() for i in range(table.num_columns)]
    return list(table.column_names), [list(r) for r in zip(*columns)] if columns else []


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


_TABLE_LIST = {
    "sqlite": "select name from sqlite_master where type = 'table' and name not like 'sqlite_%' order by name",
    "duckdb": "select table_name from information_schema.tables where table_type = 'BASE TABLE' order by table_name",
}


@contextmanager
def _read_only(kind: str, path: str | Path):
    """A read-only connection to a SQLite or DuckDB file: reading a source never writes it."""
    if kind == "sqlite":
        conn = sqlite3.connect(f"file:{Path(path).resolve()}?mode=ro", uri=True)
    else:
        import duckdb

        conn = duckdb.connect(str(path), read_only=True)
    try:
        yield conn
    finally:
        conn.close()


def db_table_names(kind: str, path: str | Path) -> list[str]:
    with _read_only(kind, path) as conn:
        return [r[0] for r in conn.execute(_TABLE_LIST[kind]).fetchall()]


def read_db_table(kind: str, path: str | Path, table: str, max_rows: int) -> tuple[list[str], list[tuple]]:
    with _read_only(kind, path) as conn:
        cursor = conn.execute(f"select * from {_quote_ident(table)} limit ?", [max_rows])
        return [d[0] for d in cursor.description], cursor.fetchall()
