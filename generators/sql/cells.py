"""Cells: raw source values → display text, and the type of each column.

The display text of a cell is what the model sees, what the SQLite text
column holds and what an answer that is a cell must equal. Types follow the
source faithfully:

- typed sources (Parquet, SQLite, DuckDB): a column is `number` iff every
  value is stored as a number, `date` iff every value is a date/timestamp
  (or ISO text), else `text`. Text that looks like a number (`24.04`, `007`)
  stays text.
- untyped sources (CSV): a column is `number` iff every cell is a number
  written the way numbers are written: no leading zeros (`007` is a code),
  at most 15 significant integer digits (longer ids are not exact in a
  float), and trailing zeros in a fraction only when every cell has the same
  number of decimals (`2.50, 3.00` is a fixed-point column; `25.10` next to
  `3.6` is not a number). Anything else is text (or date).

Floats from typed sources are shown with one formatting (15 significant
digits, shortest form), and so are CSV numbers written with more digits than
a float holds (writer noise such as `6.9220000000000015` → `6.922`); the
REAL twin is parsed from the display text, so a value is displayed and
answered alike.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from decimal import Decimal
from typing import Any, Sequence

COLUMN_TYPES = ("number", "text", "date")
# Cells that mean "missing": stored as NULL, shown as an empty cell.
NULL_TEXT = frozenset({"", "none", "null", "nan", "n/a"})
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?")
_THOUSANDS = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_LEADING_ZERO = re.compile(r"[+-]?0[\d,]")
# ISO date, optional time and UTC offset; cells are lower-cased, so `T`/`Z` arrive as `t`/`z`.
DATE = re.compile(r"(\d{4}-\d{2}-\d{2})(?:[ t]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?(z|[+-]\d{2}:?\d{2})?")
_MAX_EXACT_INT = 2**53  # integers beyond this are not exact as a REAL
# Control characters and the pipe would break one-line cells and pipe tables.
_BREAKING = re.compile(r"[\x00-\x1f\x7f]")
_SPACES = re.compile(r"\s+")


def parse_number(text: str) -> float | None:
    """The finite number a display cell holds, or None (`nan`, `inf`, `1e999` are not numbers)."""
    if _NUMBER.fullmatch(text):
        value = float(text)
    elif _THOUSANDS.fullmatch(text):
        value = float(text.replace(",", ""))
    else:
        return None
    return value if math.isfinite(value) else None


def normalize_text(text: str, max_chars: int) -> str:
    """One line, lower-case, no pipes, at most `max_chars` characters."""
    text = _SPACES.sub(" ", _BREAKING.sub(" ", text.replace("|", "/"))).strip().lower()
    return text[:max_chars].rstrip() if len(text) > max_chars else text


def float_text(value: float) -> str:
    """One formatting for stored floats: 15 significant digits, shortest form, whole numbers as ints."""
    value = float(f"{value:.15g}")
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)


def display_cell(value: Any, max_chars: int) -> str | None:
    """Raw source value → display text (None for missing). Datetimes: see `column_cells`."""
    if value is None or isinstance(value, (bytes, bytearray, memoryview)):
        return None
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, int):
        text = str(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            return None
        text = float_text(value)
    elif isinstance(value, Decimal):
        if not value.is_finite():
            return None
        text = format(value, "f")
    elif isinstance(value, dt.datetime):
        text = value.isoformat(sep=" ")
    elif isinstance(value, dt.date):
        text = value.isoformat()
    else:
        text = str(value)
    text = normalize_text(text, max_chars)
    return None if text in NULL_TEXT else text


def _is_number_value(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return abs(value) < _MAX_EXACT_INT
    return isinstance(value, (float, Decimal))


def _datetime_cells(values: Sequence[Any], max_chars: int) -> list[str | None]:
    """Dates and timestamps of one column, formatted alike.

    A column whose timestamps are all naive midnights is shown as dates; a
    column mixing UTC offsets (a zone with daylight saving) is shown in UTC,
    so text order is time order.
    """
    stamps = [v for v in values if isinstance(v, dt.datetime)]
    offsets = {v.utcoffset() for v in stamps}
    to_utc = len(offsets) > 1 and None not in offsets
    midnight = all(v.tzinfo is None and v.time() == dt.time(0) and not getattr(v, "nanosecond", 0) for v in stamps)
    out: list[str | None] = []
    for v in values:
        if isinstance(v, dt.datetime):
            if midnight:
                v = v.date()
            elif to_utc:
                v = v.astimezone(dt.timezone.utc)
        out.append(display_cell(v, max_chars))
    return out


def column_cells(raw: Sequence[Any], typed: bool, max_chars: int) -> tuple[list[str | None], str]:
    """Display cells and inferred type of one column of raw values."""
    present = [v for v in raw if v is not None and not (isinstance(v, float) and math.isnan(v))]
    if typed and present and all(isinstance(v, (dt.date, dt.datetime)) for v in present):
        cells = _datetime_cells(raw, max_chars)
        return cells, "date" if _iso_dates([c for c in cells if c is not None]) else "text"
    cells = [display_cell(v, max_chars) for v in raw]
    shown = [c for c in cells if c is not None]
    if typed:
        numeric = all(_is_number_value(v) for v, c in zip(raw, cells) if c is not None)
        if shown and numeric:
            return cells, "number"
        return cells, "date" if shown and _iso_dates(shown) else "text"
    return cells, infer_type(cells)


def tidy_number(cell: str) -> str:
    """A CSV number cell with more than 15 significant digits, in the one float formatting."""
    if "," in cell or parse_number(cell) is None:
        return cell
    mantissa = cell.partition("e")[0].lstrip("+-").replace(".", "").lstrip("0")
    return float_text(float(cell)) if len(mantissa) > 15 else cell


def infer_type(cells: Sequence[str | None]) -> str:
    """Type of an untyped (CSV) column from its display cells; see the module doc."""
    present = [c for c in cells if c is not None]
    if present and _plain_numbers(present):
        return "number"
    if present and _iso_dates(present):
        return "date"
    return "text"


def _plain_numbers(cells: Sequence[str]) -> bool:
    widths: set[int] = set()
    padded = False
    for cell in cells:
        if parse_number(cell) is None or _LEADING_ZERO.match(cell):
            return False
        mantissa = cell.partition("e")[0]
        whole, _, fraction = mantissa.partition(".")
        if not fraction and "e" not in cell and sum(ch.isdigit() for ch in whole) > 15:
            return False  # an id of 16+ digits: a REAL would merge neighbouring values
        padded = padded or (fraction.endswith("0") and fraction != "0")
        widths.add(len(fraction))
    return not padded or len(widths) == 1


def _iso_dates(cells: Sequence[str]) -> bool:
    """Every cell an ISO date/timestamp, all with the same UTC offset (or none): text order is time order."""
    offsets = set()
    for cell in cells:
        match = DATE.fullmatch(cell)
        if match is None or not valid_date(match.group(1)):
            return False
        offsets.add(match.group(2))
    return len(offsets) == 1


def valid_date(text: str) -> bool:
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True
