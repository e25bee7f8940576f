"""Answer lists: how executed values are shown, written out and read back.

An answer is a list of display strings, one per returned value (row-major
when a query selects several columns). The output text joins them with
`", "` as the spec does, but a value is written in double quotes, with inner
quotes doubled (CSV style), when it is empty or holds a comma or a quote, so
`nuevo leon, north` + `yucatan` reads as two values and an empty cell is `""`:

    ["nuevo leon, north", "yucatan", ""]  →  "nuevo leon, north", yucatan, ""

`parse_answers` reads that text back with the standard `csv` reader, so a
list survives a round trip exactly.
"""

from __future__ import annotations

import csv
from typing import Any, Sequence

EMPTY = ""  # an empty cell in an answer list; written as `""`


def format_value(value: Any) -> str:
    """A computed value as text: `str(v).lower()` (spec), floats cut to 15 significant digits.

    SQLite sums of REALs carry binary noise (2238.5029999999997); 15 digits
    drop it while keeping the spec's forms ("9.0" stays "9.0"). None → "".
    """
    if value is None:
        return EMPTY
    if isinstance(value, float):
        value = float(f"{value:.15g}")
    return str(value).lower()


def _needs_quotes(text: str) -> bool:
    return not text or "," in text or '"' in text


def quote_value(text: str) -> str:
    return '"' + text.replace('"', '""') + '"' if _needs_quotes(text) else text


def format_answers(values: Sequence[str]) -> str:
    """Display strings → the output text (see the module doc)."""
    return ", ".join(quote_value(v) for v in values)


def parse_answers(text: str) -> list[str]:
    """Output text → display strings; the inverse of `format_answers`.

    Items are stripped (cells never start or end with a space); a text with no
    quotes splits on every comma, as the spec's checker does. Empty text is an
    empty list.
    """
    if not text.strip():
        return []
    row = next(csv.reader([text.replace("\n", " ")], skipinitialspace=True), [])
    return [item.strip() for item in row]
