"""Load unannotated documents: text files, JSONL, Parquet, `datasets` dirs, bundled corpus.

Every loader yields {"id", "text", "source"} dicts with stable ids, so reruns
and generators that derive seeds from document ids stay deterministic.

Bad input never passes silently. A row or file that cannot be a document
(invalid UTF-8, a line that is not JSON, JSON that is not an object, a `text`
that is not a string, a missing column, a repeated id) is handled per the
source's `on_error`:
- `skip` (default): skipped and counted by reason in the source report, with
  the first few places (`file:line`) kept as examples; the report reaches the
  run summary. Sources are read before any generation, so skipping loses no
  work, and one stray line in a large real-world dump should not stop a run.
- `raise`: the first bad row stops the run with a `SourceError` naming file and line.
Empty or too-short documents are always skipped and counted (`empty_or_short`).
JSONL is split on `\\n` only: U+2028 / U+0085 inside a JSON string are text.
"""

from __future__ import annotations

import glob
import io
import json
import os
import re
from collections import Counter
from typing import Any, Iterator, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

MAX_EXAMPLES = 5  # places kept per skip reason in the report
_SURROGATE = re.compile("[\ud800-\udfff]")


class SourceError(ValueError):
    """A source that cannot be read (or a bad row under `on_error: raise`); names file and line."""


class SourceConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["text", "jsonl", "parquet", "datasets", "pydoc_topics", "inline"]
    path: str | None = None  # file, directory or glob (not for pydoc_topics / inline)
    text_column: str = Field("text", min_length=1)
    id_column: str | None = None
    limit: int | None = Field(None, ge=1)  # take the first N documents (after sorting by id); None: all
    min_chars: int = Field(1, ge=0)
    max_chars: int | None = Field(4000, ge=1)  # long documents are cut: a prompt must fit the model
    texts: list[str] | None = None  # for kind=inline
    on_error: Literal["skip", "raise"] = "skip"  # bad rows: skip and count by reason, or stop naming file:line

    @model_validator(mode="after")
    def _needs_path(self) -> "SourceConfig":
        if self.kind in ("text", "jsonl", "parquet", "datasets") and not self.path:
            raise ValueError(f"sources: kind={self.kind!r} needs `path`")
        if self.kind == "inline" and not self.texts:
            raise ValueError("sources: kind='inline' needs `texts`")
        if self.max_chars is not None and self.max_chars < self.min_chars:
            raise ValueError(f"sources: max_chars ({self.max_chars}) is below min_chars ({self.min_chars})")
        return self

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.path}" if self.path else self.kind


SUFFIXES = {"text": (".txt", ".md"), "jsonl": (".jsonl", ".json"), "parquet": (".parquet",)}


def expand_paths(path: str, suffixes: tuple[str, ...]) -> list[str]:
    """Files a source `path` names (a file, a directory walked for `suffixes`, or a glob), sorted."""
    if os.path.isdir(path):
        found = [os.path.join(root, f) for root, _, files in os.walk(path) for f in files if f.endswith(suffixes)]
    else:
        found = [p for p in glob.glob(path) if os.path.isfile(p)]
    if not found:
        what = "no such file or directory" if not glob.has_magic(path) and not os.path.exists(path) else "no matching files"
        raise SourceError(f"sources: {path!r}: {what} (looked for {'/'.join(suffixes)})")
    return sorted(found)


class _Rows:
    """Collects bad rows: skip-and-count or raise, per `on_error`."""

    def __init__(self, on_error: str):
        self.on_error = on_error
        self.skipped: Counter[str] = Counter()
        self.examples: dict[str, list[str]] = {}

    def bad(self, reason: str, where: str, detail: str) -> None:
        if self.on_error == "raise":
            raise SourceError(f"{where}: {detail} (reason {reason}; set on_error: skip to skip such rows)")
        self.skipped[reason] += 1
        shown = self.examples.setdefault(reason, [])
        if len(shown) < MAX_EXAMPLES:
            shown.append(f"{where}: {detail}")


def _read_bytes(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise SourceError(f"{path}: cannot read: {exc.strerror or exc}") from None


def iter_jsonl(raw: bytes) -> Iterator[tuple[int, bytes]]:
    """(1-based line number, line bytes) of non-blank lines, split on `\\n` only."""
    for number, line in enumerate(raw.split(b"\n"), 1):
        if line.strip():
            yield number, line.rstrip(b"\r")


def _jsonl_rows(path: str, rows: _Rows) -> Iterator[tuple[str, Any]]:
    raw = _read_bytes(path)
    name = os.path.basename(path)
    if path.endswith(".json"):  # one JSON document (an array of objects) or JSON lines
        try:
            whole = json.loads(raw.decode("utf-8-sig"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            whole = None
        if isinstance(whole, list):
            for index, row in enumerate(whole):
                yield f"{name}:{index}", (f"{path}: item {index}", row)
            return
        if isinstance(whole, dict):  # one (maybe pretty-printed) object: one row
            yield f"{name}:0", (path, whole)
            return
    for number, line in iter_jsonl(raw.removeprefix(b"\xef\xbb\xbf")):
        where = f"{path}:{number}"
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            rows.bad("invalid_utf8", where, f"byte 0x{line[exc.start]:02x} at column {exc.start + 1} is not UTF-8")
            continue
        try:
            row = json.loads(text)
        except (ValueError, RecursionError) as exc:
            rows.bad("invalid_json", where, f"not JSON ({getattr(exc, 'msg', type(exc).__name__)})")
            continue
        # The id keeps the 0-based line index ids have always had, so existing runs resume.
        yield f"{name}:{number - 1}", (where, row)


def _raw_rows(cfg: SourceConfig, rows: _Rows) -> Iterator[tuple[str, Any]]:
    """(default id, (place, row)) for row sources; (id, (place, text)) for text sources."""
    if cfg.kind == "pydoc_topics":
        from pydoc_data.topics import topics  # Python's own help topics: real prose, offline

        for name, text in sorted(topics.items()):
            yield f"pydoc:{name}", (f"pydoc topic {name}", text)
        return
    if cfg.kind == "inline":
        for i, text in enumerate(cfg.texts or []):
            yield f"inline:{i:06d}", (f"sources.texts.{i}", text)
        return
    assert cfg.path is not None
    if cfg.kind == "text":
        base = os.path.dirname(cfg.path.rstrip("/")) or "."
        for path in expand_paths(cfg.path, SUFFIXES["text"]):
            raw = _read_bytes(path)
            try:
                text = raw.decode("utf-8-sig")
            except UnicodeDecodeError as exc:
                line = raw[: exc.start].count(b"\n") + 1
                rows.bad("invalid_utf8", f"{path}:{line}", f"byte 0x{raw[exc.start]:02x} is not UTF-8")
                continue
            yield f"file:{os.path.relpath(path, base)}", (path, text)
    elif cfg.kind == "jsonl":
        for path in expand_paths(cfg.path, SUFFIXES["jsonl"]):
            yield from _jsonl_rows(path, rows)
    elif cfg.kind == "parquet":
        import pyarrow.parquet as pq

        for path in expand_paths(cfg.path, SUFFIXES["parquet"]):
            try:
                table = pq.read_table(path)
            except Exception as exc:  # pyarrow raises several types for a damaged file
                raise SourceError(f"{path}: not a readable Parquet file ({exc})") from None
            for i, row in enumerate(table.to_pylist()):
                yield f"{os.path.basename(path)}:{i}", (f"{path}: row {i}", row)
    elif cfg.kind == "datasets":
        import datasets

        try:
            loaded = datasets.load_from_disk(cfg.path)
        except Exception as exc:  # FileNotFoundError, or datasets' own errors for a foreign dir
            raise SourceError(f"{cfg.path}: not a `datasets` directory saved with save_to_disk ({exc})") from None
        if isinstance(loaded, datasets.DatasetDict):
            loaded = loaded[sorted(loaded.keys())[0]]
        for i, row in enumerate(loaded):
            yield f"row:{i}", (f"{cfg.path}: row {i}", row)


def _document(cfg: SourceConfig, key: str, where: str, row: Any, rows: _Rows) -> tuple[str, str] | None:
    if not isinstance(row, dict):
        rows.bad("not_an_object", where, f"expected a JSON object with {cfg.text_column!r}, got {type(row).__name__}")
        return None
    if cfg.text_column not in row:
        columns = ", ".join(sorted(map(str, row))[:20]) or "none"
        rows.bad("missing_text_column", where, f"no {cfg.text_column!r} field (fields: {columns})")
        return None
    if cfg.id_column and row.get(cfg.id_column) is None:
        rows.bad("missing_id", where, f"no {cfg.id_column!r} (id_column)")
        return None
    text = row[cfg.text_column]
    if text is None:
        rows.bad("text_missing", where, f"{cfg.text_column!r} is null")
        return None
    if not isinstance(text, str):
        rows.bad("text_not_string", where, f"{cfg.text_column!r} is not a string (got {type(text).__name__} {repr(text)[:40]})")
        return None
    return (str(row[cfg.id_column]) if cfg.id_column else key), text


def load_source(cfg: SourceConfig) -> tuple[list[dict], dict[str, Any]]:
    """Documents ({"id", "text", "source"}, sorted by id) and the source's report.

    The report: {"source", "documents", "skipped": {reason: count}, "examples": {reason: [place: detail]}}.
    Raises `SourceError` for a missing or unreadable file, and for a bad row under `on_error: raise`.
    """
    rows = _Rows(cfg.on_error)
    found: dict[str, str] = {}
    places: dict[str, str] = {}
    for key, (where, value) in _raw_rows(cfg, rows):
        doc = (key, value) if cfg.kind in ("text", "pydoc_topics", "inline") else _document(cfg, key, where, value, rows)
        if doc is None:
            continue
        if _SURROGATE.search(doc[1]):  # JSON and YAML allow a lone "\ud800" escape; UTF-8 (and Parquet) cannot hold it
            rows.bad("invalid_unicode", where, "the text holds a lone surrogate (half a UTF-16 pair)")
            continue
        if doc[0] in found:
            rows.bad("duplicate_id", where, f"id {doc[0]!r} already used by an earlier row")
            continue
        found[doc[0]] = doc[1]
        places[doc[0]] = where
    docs = []
    for doc_id in sorted(found):
        text = found[doc_id].strip()
        if len(text) < max(cfg.min_chars, 1):
            rows.skipped["empty_or_short"] += 1  # not a bad row: counted and shown, never raised
            shown = rows.examples.setdefault("empty_or_short", [])
            if len(shown) < MAX_EXAMPLES:
                shown.append(f"{places[doc_id]}: {len(text)} characters after stripping whitespace, below min_chars ({max(cfg.min_chars, 1)})")
            continue
        if cfg.max_chars and len(text) > cfg.max_chars:
            text = text[: cfg.max_chars].rsplit(" ", 1)[0]
        docs.append({"id": doc_id, "text": text, "source": cfg.kind})
        if cfg.limit and len(docs) >= cfg.limit:
            break
    report = {"source": cfg.label, "documents": len(docs), "skipped": dict(sorted(rows.skipped.items())), "examples": dict(sorted(rows.examples.items()))}
    return docs, report


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
    import csv

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

    Raises `SourceError` for a bad row of a table source with `on_error: raise`.
    """
    reports = []
    for gen in generators:
        for source in getattr(gen, "sources", None) or []:
            if gen.method == "sql_exec" and source.kind == "csv":
                _, _, report = read_csv_rows(source.path, table_delimiter(source), gen.max_rows, source.on_error)
                reports.append(report)
    return reports


def table_delimiter(source: Any) -> str:
    """The delimiter the SQL generator reads a CSV table source with (it guesses when none was set)."""
    from generators.sql import tables

    guess = getattr(tables, "_guess_delimiter", None)  # the SQL reader's rule, where it has one
    if guess is None or "delimiter" in source.model_fields_set or source.delimiter != ",":
        return source.delimiter
    return guess(source.path, None)


def load_documents(cfg: SourceConfig) -> tuple[list[dict], dict[str, int]]:
    """Documents plus counts of what was skipped, by reason."""
    docs, report = load_source(cfg)
    return docs, {"empty_or_short": 0, **report["skipped"]}
