"""Tables for SQL-execution tasks: loading, cell normalization, type inference.

Every source (CSV, Parquet, SQLite, DuckDB, bundled) is reduced to a header
and rows of raw Python values, then `build_table` normalizes them once: cells
become lower-cased single-line display strings (the exact text the model
sees and the SQLite text column holds), and each column gets a type
(`number`, `text` or `date`). Number columns also keep parsed floats, which
become the REAL `cK_number` column. Doing this once per table keeps the
display and the executed data identical by construction.
"""

from __future__ import annotations

import csv
import datetime as dt
import itertools
import math
import re
import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable, Sequence

COLUMN_TYPES = ("number", "text", "date")
# Cells that mean "missing": stored as NULL, shown as an empty cell.
_NULL_TEXT = frozenset({"", "none", "null", "nan", "n/a"})
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?")
_THOUSANDS = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(?:[ t]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?")
# Control characters and the pipe would break one-line cells and pipe tables.
_BREAKING = re.compile(r"[\x00-\x1f\x7f]")
_SPACES = re.compile(r"\s+")


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
            values = [v for v in values if _DATE.fullmatch(v) and _valid_date(v[:10])]
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


def parse_number(text: str) -> float | None:
    """The number a display cell holds, or None. `nan`/`inf` are not numbers here."""
    if _NUMBER.fullmatch(text):
        return float(text)
    if _THOUSANDS.fullmatch(text):
        return float(text.replace(",", ""))
    return None


def normalize_text(text: str, max_chars: int) -> str:
    """One line, lower-case, no pipes, at most `max_chars` characters."""
    text = _SPACES.sub(" ", _BREAKING.sub(" ", text.replace("|", "/"))).strip().lower()
    return text[:max_chars].rstrip() if len(text) > max_chars else text


def display_cell(value: Any, max_chars: int) -> str | None:
    """Raw source value → display text (None for missing)."""
    if value is None or isinstance(value, (bytes, bytearray, memoryview)):
        return None
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, int):
        text = str(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            return None
        text = str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    elif isinstance(value, Decimal):
        text = format(value, "f")
    elif isinstance(value, dt.datetime):
        text = value.isoformat(sep=" ")
        text = text[:10] if text.endswith(" 00:00:00") else text
    elif isinstance(value, dt.date):
        text = value.isoformat()
    else:
        text = str(value)
    text = normalize_text(text, max_chars)
    return None if text in _NULL_TEXT else text


def infer_type(cells: Sequence[str | None]) -> str:
    """number iff every non-null cell parses as a number; date iff every one is ISO."""
    present = [c for c in cells if c is not None]
    if present and all(parse_number(c) is not None for c in present):
        return "number"
    if present and all(_DATE.fullmatch(c) and _valid_date(c[:10]) for c in present):
        return "date"
    return "text"


def _valid_date(text: str) -> bool:
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True


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


def build_table(
    table_id: str,
    header: Sequence[Any],
    rows: Iterable[Sequence[Any]],
    *,
    column_types: dict[str, str] | None = None,
    drop_columns: Sequence[str] = ("id", "agg"),
    max_columns: int = 12,
    max_rows: int = 5000,
    max_cell_chars: int = 80,
    strict_overrides: bool = False,
) -> Table:
    """Normalize one table. `column_types` keys are header names (any case)."""
    headers = _unique_headers(header, max_cell_chars)
    width = len(headers)
    columns_cells: list[list[str | None]] = [[] for _ in headers]
    n_rows = 0
    for raw in rows:
        if n_rows >= max_rows:
            break
        for j in range(width):
            columns_cells[j].append(display_cell(raw[j], max_cell_chars) if j < len(raw) else None)
        n_rows += 1
    overrides = {normalize_text(str(k), max_cell_chars): v for k, v in (column_types or {}).items()}
    unknown = sorted(set(overrides) - set(headers))
    if unknown and strict_overrides:
        raise ValueError(f"column_types: no column named {unknown} in table {table_id!r}; columns: {headers}")
    for name, kind in overrides.items():
        if kind not in COLUMN_TYPES:
            raise ValueError(f"column_types[{name!r}]: {kind!r} is not one of {list(COLUMN_TYPES)}")
    drop = {normalize_text(d, max_cell_chars) for d in drop_columns}
    notes: list[str] = []
    columns: list[Column] = []
    for header_name, cells in zip(headers, columns_cells):
        if header_name in drop:
            notes.append(f"dropped {header_name!r}: helper column")
            continue
        if all(c is None for c in cells):
            notes.append(f"dropped {header_name!r}: no values")
            continue
        if len(columns) >= max_columns:
            notes.append(f"dropped {header_name!r}: beyond max_columns={max_columns}")
            continue
        kind = overrides.get(header_name) or infer_type(cells)
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


def read_csv(path: str | Path, delimiter: str = ",", max_rows: int | None = None) -> tuple[list[str], list[list[str]]]:
    with open(path, newline="", encoding="utf-8-sig", errors="replace") as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        header = next(reader, [])
        return header, list(itertools.islice(reader, max_rows))


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
