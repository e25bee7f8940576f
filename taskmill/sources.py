"""Load unannotated documents: text files, JSONL, Parquet, `datasets` dirs, bundled corpus.

Every loader yields {"id", "text", "source"} dicts with stable ids, so reruns
and generators that derive seeds from document ids stay deterministic. Documents
stream (`iter_documents`): JSONL is read a line at a time, Parquet a record batch
at a time (`pyarrow.parquet.ParquetFile.iter_batches`), `datasets` dirs through
their memory-mapped Arrow table (`Dataset.iter`), so a source of any size costs
one batch of memory. Their order is the read order (files in natural path order,
rows in file order), which `limit` and the generators' shard plans follow.
What is held whole: one text file (it is one document), a `.json` file that is a
single JSON document (an array must be parsed whole; use `.jsonl` for big data),
and the ids of an `id_column` source (to refuse a repeat). JSONL goes through the
stdlib `json` line by line rather than `pyarrow.json`, whose block reader fails a
whole block on one bad line; here each bad line is skipped or named (`file:line`).

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
import json
import os
import re
from collections import Counter
from typing import Any, Iterable, Iterator, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

MAX_EXAMPLES = 5  # places kept per skip reason in the report
BATCH_ROWS = 1024  # rows per Parquet / `datasets` read
_SURROGATE = re.compile("[\ud800-\udfff]")


class SourceError(ValueError):
    """A source that cannot be read (or a bad row under `on_error: raise`); names file and line."""


class SourceConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["text", "jsonl", "parquet", "datasets", "pydoc_topics", "inline"]
    path: str | None = None  # file, directory or glob (not for pydoc_topics / inline)
    text_column: str = Field("text", min_length=1)
    id_column: str | None = None
    limit: int | None = Field(None, ge=1)  # take the first N documents in read order (file, then line); None: all
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


def natural_key(path: str) -> list[Any]:
    """Sort key that orders the numbers inside a name by value: `part-2` before `part-10`."""
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", path)]


def expand_paths(path: str, suffixes: tuple[str, ...]) -> list[str]:
    """Files a source `path` names (a file, a directory walked for `suffixes`, or a glob), in natural order."""
    if os.path.isdir(path):
        found = [os.path.join(root, f) for root, _, files in os.walk(path) for f in files if f.endswith(suffixes)]
    else:
        found = [p for p in glob.glob(path) if os.path.isfile(p)]
    if not found:
        what = "no such file or directory" if not glob.has_magic(path) and not os.path.exists(path) else "no matching files"
        raise SourceError(f"sources: {path!r}: {what} (looked for {'/'.join(suffixes)})")
    return sorted(found, key=natural_key)


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


def _open(path: str) -> Any:
    try:
        return open(path, "rb")
    except OSError as exc:
        raise SourceError(f"{path}: cannot read: {exc.strerror or exc}") from None


def iter_jsonl(lines: Iterable[bytes]) -> Iterator[tuple[int, bytes]]:
    """(1-based line number, line bytes) of non-blank lines; `lines` is bytes or a binary file.

    A binary file iterates on `\\n` only (U+2028 / U+0085 stay inside their line), so a file
    is read one line at a time, never whole.
    """
    if isinstance(lines, bytes):
        lines = lines.split(b"\n")
    for number, line in enumerate(lines, 1):
        if line.strip():
            yield number, line.rstrip(b"\r\n")


def _json_document(path: str) -> Any:
    """A `.json` file that is one JSON document (an array or one object); None when it is JSON lines."""
    with _open(path) as handle:
        head = handle.read(1 << 16).lstrip()
    if not head.startswith((b"[", b"{", b"\xef\xbb\xbf")):
        return None
    try:
        whole = json.loads(_read_bytes(path).decode("utf-8-sig"))  # one document: it has to be parsed whole
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    return whole if isinstance(whole, (list, dict)) else None


def _jsonl_rows(path: str, rows: _Rows) -> Iterator[tuple[str, str, Any]]:
    name = os.path.basename(path)
    if path.endswith(".json"):  # one JSON document (an array of objects) or JSON lines
        whole = _json_document(path)
        if isinstance(whole, list):
            for index, row in enumerate(whole):
                yield f"{name}:{index}", f"{path}: item {index}", row
            return
        if isinstance(whole, dict):  # one (maybe pretty-printed) object: one row
            yield f"{name}:0", path, whole
            return
    with _open(path) as handle:
        for number, line in iter_jsonl(handle):
            where = f"{path}:{number}"
            if number == 1:
                line = line.removeprefix(b"\xef\xbb\xbf")
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
            yield f"{name}:{number - 1}", where, row


def _columns(cfg: SourceConfig, names: list[str]) -> list[str] | None:
    """Columns to read: text and id only, unless the text column is missing (then all, to name them)."""
    if cfg.text_column not in names:
        return None
    return [c for c in (cfg.text_column, cfg.id_column) if c and c in names]


def _parquet_rows(cfg: SourceConfig, path: str) -> Iterator[tuple[str, str, Any]]:
    import pyarrow.parquet as pq

    name = os.path.basename(path)
    index = 0
    try:
        handle = pq.ParquetFile(path)
        batches = handle.iter_batches(batch_size=BATCH_ROWS, columns=_columns(cfg, handle.schema_arrow.names))
        for batch in batches:  # row groups are read as they are needed, a batch at a time
            for row in batch.to_pylist():
                yield f"{name}:{index}", f"{path}: row {index}", row
                index += 1
    except (OSError, ValueError, TypeError) as exc:  # pyarrow's ArrowInvalid / ArrowIOError for a damaged file
        where = f" at row {index}" if index else ""
        raise SourceError(f"{path}: not a readable Parquet file{where} ({exc})") from None


def _datasets_rows(cfg: SourceConfig) -> Iterator[tuple[str, str, Any]]:
    import datasets

    try:
        loaded = datasets.load_from_disk(cfg.path)
    except Exception as exc:  # FileNotFoundError, or datasets' own errors for a foreign dir
        raise SourceError(f"{cfg.path}: not a `datasets` directory saved with save_to_disk ({exc})") from None
    if isinstance(loaded, datasets.DatasetDict):
        loaded = loaded[sorted(loaded.keys())[0]]
    columns = _columns(cfg, loaded.column_names)
    if columns:
        loaded = loaded.select_columns(columns)  # memory-mapped Arrow: only these columns are touched
    index = 0
    for batch in loaded.iter(batch_size=BATCH_ROWS):
        names = list(batch)
        for values in zip(*(batch[n] for n in names)):
            yield f"row:{index}", f"{cfg.path}: row {index}", dict(zip(names, values))
            index += 1


def _raw_rows(cfg: SourceConfig, rows: _Rows) -> Iterator[tuple[str, str, Any, bool]]:
    """(default id, place, row or text, id may repeat) in read order; text for text-like kinds.

    "id may repeat": default ids of row files are `<basename>:<index>`, so two files with one
    basename (in different folders) can give the same id; only those ids need checking.
    """
    if cfg.kind == "pydoc_topics":
        from pydoc_data.topics import topics  # Python's own help topics: real prose, offline

        for name, text in sorted(topics.items()):
            yield f"pydoc:{name}", f"pydoc topic {name}", text, False
        return
    if cfg.kind == "inline":
        for i, text in enumerate(cfg.texts or []):
            yield f"inline:{i:06d}", f"sources.texts.{i}", text, False
        return
    assert cfg.path is not None
    if cfg.kind == "datasets":
        for key, where, row in _datasets_rows(cfg):
            yield key, where, row, False
        return
    paths = expand_paths(cfg.path, SUFFIXES[cfg.kind])
    if cfg.kind == "text":
        base = os.path.dirname(cfg.path.rstrip("/")) or "."
        for path in paths:
            raw = _read_bytes(path)
            try:
                text = raw.decode("utf-8-sig")
            except UnicodeDecodeError as exc:
                line = raw[: exc.start].count(b"\n") + 1
                rows.bad("invalid_utf8", f"{path}:{line}", f"byte 0x{raw[exc.start]:02x} is not UTF-8")
                continue
            yield f"file:{os.path.relpath(path, base)}", path, text, False
        return
    basenames = Counter(os.path.basename(p) for p in paths)
    for path in paths:
        repeats = basenames[os.path.basename(path)] > 1
        found = _jsonl_rows(path, rows) if cfg.kind == "jsonl" else _parquet_rows(cfg, path)
        for key, where, row in found:
            yield key, where, row, repeats


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


class SourceReport(_Rows):
    """What reading one source did; `as_dict()` is the report `load_source` returns."""

    def __init__(self, cfg: SourceConfig):
        super().__init__(cfg.on_error)
        self.label = cfg.label
        self.documents = 0

    def as_dict(self) -> dict[str, Any]:
        return {"source": self.label, "documents": self.documents, "skipped": dict(sorted(self.skipped.items())),
                "examples": dict(sorted(self.examples.items()))}  # fmt: skip


def iter_documents(cfg: SourceConfig, report: SourceReport | None = None) -> Iterator[dict]:
    """Documents ({"id", "text", "source"}) one at a time, in read order; `report` fills as they go.

    Read order: files in natural path order (`part-2` before `part-10`), then line / row order
    inside a file; pydoc topics by name; inline texts as listed. `limit` keeps the first N
    documents in that order. Only the current batch of a file is in memory, plus the ids
    seen for `id_column` sources (to refuse a repeated id). Raises `SourceError` for a missing
    or unreadable file, and for a bad row under `on_error: raise`.
    """
    report = report or SourceReport(cfg)
    seen: set[str] = set()
    floor = max(cfg.min_chars, 1)
    for key, where, value, may_repeat in _raw_rows(cfg, report):
        doc = (key, value) if cfg.kind in ("text", "pydoc_topics", "inline") else _document(cfg, key, where, value, report)
        if doc is None:
            continue
        doc_id, text = doc
        if _SURROGATE.search(text):  # JSON and YAML allow a lone "\ud800" escape; UTF-8 (and Parquet) cannot hold it
            report.bad("invalid_unicode", where, "the text holds a lone surrogate (half a UTF-16 pair)")
            continue
        if cfg.id_column or may_repeat:
            if doc_id in seen:
                report.bad("duplicate_id", where, f"id {doc_id!r} already used by an earlier row")
                continue
            seen.add(doc_id)
        text = text.strip()
        if len(text) < floor:
            report.skipped["empty_or_short"] += 1  # not a bad row: counted and shown, never raised
            shown = report.examples.setdefault("empty_or_short", [])
            if len(shown) < MAX_EXAMPLES:
                shown.append(f"{where}: {len(text)} characters after stripping whitespace, below min_chars ({floor})")
            continue
        if cfg.max_chars and len(text) > cfg.max_chars:
            text = text[: cfg.max_chars].rsplit(" ", 1)[0]
        report.documents += 1
        yield {"id": doc_id, "text": text, "source": cfg.kind}
        if cfg.limit and report.documents >= cfg.limit:
            return


def load_source(cfg: SourceConfig) -> tuple[list[dict], dict[str, Any]]:
    """All documents of a source as a list (`iter_documents` order) and its report.

    The report: {"source", "documents", "skipped": {reason: count}, "examples": {reason: [place: detail]}}.
    For small sources and tests; a run streams them (`taskmill.documents`).
    Raises `SourceError` for a missing or unreadable file, and for a bad row under `on_error: raise`.
    """
    report = SourceReport(cfg)
    docs = list(iter_documents(cfg, report))
    return docs, report.as_dict()


def load_documents(cfg: SourceConfig) -> tuple[list[dict], dict[str, int]]:
    """Documents plus counts of what was skipped, by reason."""
    docs, report = load_source(cfg)
    return docs, {"empty_or_short": 0, **report["skipped"]}


_CSV_NAMES = {"guess_delimiter", "read_csv_rows", "table_delimiter", "table_reports"}


def __getattr__(name: str) -> Any:
    """The CSV table readers live in `csv_tables` (which imports this module); they stay importable from here."""
    if name in _CSV_NAMES:
        from taskmill import csv_tables

        return getattr(csv_tables, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
