"""CSV table sources (the SQL generator's tables): rows checked against the header, delimiter guessed.

A table with a wrong delimiter reads as one column whose values still look
plausible, so the guess is checked rather than trusted: a header without a
comma is sniffed (`csv.Sniffer`) for `;`, tab, `|` or a space, and a space is
taken only when every sampled line splits into the same number of fields.
Otherwise the file is refused with an error that names it and the
`delimiter` option to set.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from taskmill.sources import SourceError, _read_bytes, _Rows

SNIFF_LINES = 50  # lines sampled to check a guessed delimiter
OTHER_DELIMITERS = (";", "\t", "|")  # tried, in this order of preference on ties, when the header has no comma


def guess_delimiter(path: str, notes: list[str] | None = None) -> str:
    """The delimiter of a CSV file whose source set none: `,`, `;`, tab, `|` or a space.

    `,` when the header has a comma (or no candidate at all: a one-column table).
    A header without a comma but with `;`, tab or `|`: the one it holds most.
    A header with only spaces: a space when `csv.Sniffer` agrees and each of the
    first `SNIFF_LINES` non-blank lines has the header's field count (> 1).
    Raises `SourceError` naming the file and the `delimiter` option when the
    spaces are not a consistent delimiter (e.g. aligned columns, or one column
    whose name has a space). A note saying what was chosen goes to `notes`.
    """
    raw = _read_bytes(path).removeprefix(b"\xef\xbb\xbf")
    lines = [line for line in raw.decode("utf-8", errors="replace").splitlines() if line.strip()][:SNIFF_LINES]
    first = lines[0] if lines else ""
    if "," in first:
        return ","
    counts = {d: first.count(d) for d in OTHER_DELIMITERS}
    best = max(counts, key=counts.__getitem__)
    if counts[best]:
        chosen = best
    elif " " in first.strip():
        try:
            sniffed = csv.Sniffer().sniff("\n".join(lines), delimiters=" ").delimiter
        except csv.Error:
            sniffed = None
        widths = {len(row) for row in csv.reader(io.StringIO("\n".join(lines)), delimiter=" ")}
        if sniffed != " " or len(widths) != 1 or widths == {1}:
            raise SourceError(
                f"{path}: the header {first[:80]!r} has no comma, semicolon, tab or '|', and splitting on "
                f"spaces gives rows of {sorted(widths)} fields; set the source's `delimiter` option "
                f"(e.g. delimiter: \" \" for single-space separated columns, delimiter: \",\" for one column)"
            )
        chosen = " "
    else:
        return ","
    if notes is not None:
        notes.append(f"read {path} with delimiter {chosen!r}: its header has no comma")
    return chosen


def read_csv_rows(
    path: str, delimiter: str = ",", max_rows: int | None = None, on_error: str = "skip"
) -> tuple[list[str], list[list[str]], dict[str, Any]]:
    """Header, rows and report of a CSV table; a row with another field count than the header is bad.

    Follows the SQL generator's CSV reader (`generators/sql/tables.py`), so the report says what
    it did: rows with the wrong field count (`too_many_fields`, `too_few_fields`) are skipped,
    never padded or cut; bytes that are not UTF-8 are read as U+FFFD and the row counted under
    `replaced` (`invalid_utf8`). With `on_error="raise"` the first such row raises `SourceError`
    naming file and line. `max_rows` counts kept rows. The report has `load_source`'s shape,
    with "rows" for "documents" and the extra "replaced".
    """
    rows = _Rows(on_error)
    raw = _read_bytes(path)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if on_error == "raise":
            line = raw[: exc.start].count(b"\n") + 1
            raise SourceError(f"{path}:{line}: byte 0x{raw[exc.start]:02x} is not UTF-8") from None
        text = raw.removeprefix(b"\xef\xbb\xbf").decode("utf-8", errors="replace")
    replaced = 0
    # StringIO(newline="") splits records on \r and \n only, as csv wants (str.splitlines also splits on U+2028).
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    kept: list[list[str]] = []
    try:
        header = next(reader, [])
        last = reader.line_num
        for record in reader:
            if max_rows is not None and len(kept) >= max_rows:
                break
            first, last = last + 1, reader.line_num  # a quoted field can span lines: name where the row starts
            where = f"{path}:{first}"
            if not record:
                continue  # a blank line is no row
            if len(record) != len(header):
                reason = "too_many_fields" if len(record) > len(header) else "too_few_fields"
                span = f" (the row runs over lines {first}-{last}: check for an unclosed quote)" if last > first else ""
                rows.bad(reason, where, f"{len(record)} fields, the header has {len(header)}{span}")
            else:
                replaced += any("\ufffd" in cell for cell in record)
                kept.append(record)
    except csv.Error as exc:
        raise SourceError(f"{path}:{reader.line_num}: not readable as CSV ({exc})") from None
    report = {"source": f"csv:{path}", "rows": len(kept), "skipped": dict(sorted(rows.skipped.items())),
              "examples": dict(sorted(rows.examples.items())), "replaced": {"invalid_utf8": replaced} if replaced else {}}  # fmt: skip
    return header, kept, report


def table_reports(generators: list[Any]) -> list[dict[str, Any]]:
    """Reports of the CSV tables the `sql_exec` generators read (the generator skips the same rows).

    Raises `SourceError` for a bad row of a table source with `on_error: raise`, and for a
    table whose delimiter cannot be guessed (`guess_delimiter`).
    """
    reports = []
    for gen in generators:
        for source in getattr(gen, "sources", None) or []:
            if gen.method == "sql_exec" and source.kind == "csv":
                _, _, report = read_csv_rows(source.path, table_delimiter(source), gen.max_rows, source.on_error)
                reports.append(report)
    return reports


def table_delimiter(source: Any) -> str:
    """The delimiter a CSV table source is read with: the one set, or `guess_delimiter`'s."""
    if "delimiter" in source.model_fields_set or source.delimiter != ",":
        return source.delimiter
    return guess_delimiter(source.path)
