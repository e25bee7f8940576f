"""Load unannotated documents: text files, JSONL, Parquet, `datasets` dirs, bundled corpus.

Every loader yields {"id", "text", "source"} dicts with stable ids, so reruns
and generators that derive seeds from document ids stay deterministic.
Empty documents are skipped with a count (they cannot carry a task).
"""

from __future__ import annotations

import glob
import json
import os
from typing import Literal

from pydantic import BaseModel, ConfigDict, model_validator


class SourceConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["text", "jsonl", "parquet", "datasets", "pydoc_topics", "inline"]
    path: str | None = None  # file, directory or glob (not for pydoc_topics / inline)
    text_column: str = "text"
    id_column: str | None = None
    limit: int | None = None  # take the first N documents (after sorting by id)
    min_chars: int = 1
    max_chars: int | None = 4000  # long documents are cut: a prompt must fit the model
    texts: list[str] | None = None  # for kind=inline

    @model_validator(mode="after")
    def _needs_path(self) -> "SourceConfig":
        if self.kind in ("text", "jsonl", "parquet", "datasets") and not self.path:
            raise ValueError(f"sources: kind={self.kind!r} needs `path`")
        if self.kind == "inline" and not self.texts:
            raise ValueError("sources: kind='inline' needs `texts`")
        return self


def _expand(path: str, suffixes: tuple[str, ...]) -> list[str]:
    if os.path.isdir(path):
        found = [os.path.join(root, f) for root, _, files in os.walk(path) for f in files if f.endswith(suffixes)]
    else:
        found = glob.glob(path)
    if not found:
        raise FileNotFoundError(f"sources: no {'/'.join(suffixes)} files at {path!r}")
    return sorted(found)


def _pydoc_topics() -> list[tuple[str, str]]:
    """Python's own help topics (shipped with CPython in pydoc_data): real prose, offline."""
    from pydoc_data.topics import topics

    return sorted(topics.items())


def _raw_documents(cfg: SourceConfig) -> list[tuple[str, str]]:
    if cfg.kind == "pydoc_topics":
        return [(f"pydoc:{name}", text) for name, text in _pydoc_topics()]
    if cfg.kind == "inline":
        return [(f"inline:{i:06d}", t) for i, t in enumerate(cfg.texts or [])]
    assert cfg.path is not None
    if cfg.kind == "text":
        out = []
        for path in _expand(cfg.path, (".txt", ".md")):
            with open(path, encoding="utf-8", errors="replace") as f:
                out.append((f"file:{os.path.relpath(path, os.path.dirname(cfg.path.rstrip('/')) or '.')}", f.read()))
        return out
    if cfg.kind == "jsonl":
        rows = []
        for path in _expand(cfg.path, (".jsonl", ".json")):
            with open(path, encoding="utf-8") as f:
                for line_no, line in enumerate(f):
                    if line.strip():
                        rows.append((f"{os.path.basename(path)}:{line_no}", json.loads(line)))
        return [_from_row(cfg, key, row) for key, row in rows]
    if cfg.kind == "parquet":
        import pyarrow.parquet as pq

        rows = []
        for path in _expand(cfg.path, (".parquet",)):
            for i, row in enumerate(pq.read_table(path).to_pylist()):
                rows.append((f"{os.path.basename(path)}:{i}", row))
        return [_from_row(cfg, key, row) for key, row in rows]
    if cfg.kind == "datasets":
        import datasets

        loaded = datasets.load_from_disk(cfg.path)
        if isinstance(loaded, datasets.DatasetDict):
            loaded = loaded[sorted(loaded.keys())[0]]
        return [_from_row(cfg, f"row:{i}", row) for i, row in enumerate(loaded)]
    raise ValueError(f"unknown source kind {cfg.kind!r}")


def _from_row(cfg: SourceConfig, key: str, row: dict) -> tuple[str, str]:
    if cfg.text_column not in row:
        raise KeyError(f"sources: text_column {cfg.text_column!r} not in row {key} (columns: {sorted(row)})")
    doc_id = str(row[cfg.id_column]) if cfg.id_column else key
    text = row[cfg.text_column]
    return doc_id, "" if text is None else str(text)


def load_documents(cfg: SourceConfig) -> tuple[list[dict], dict[str, int]]:
    """Documents plus counts of what was skipped (and why)."""
    docs, skipped = [], {"empty_or_short": 0}
    for doc_id, text in sorted(_raw_documents(cfg), key=lambda kv: kv[0]):
        text = text.strip()
        if len(text) < cfg.min_chars:
            skipped["empty_or_short"] += 1
            continue
        if cfg.max_chars and len(text) > cfg.max_chars:
            text = text[: cfg.max_chars].rsplit(" ", 1)[0]
        docs.append({"id": doc_id, "text": text, "source": cfg.kind})
        if cfg.limit and len(docs) >= cfg.limit:
            break
    return docs, skipped
