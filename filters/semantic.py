"""Semantic dedup in the SemDeDup style (spec §4).

Embeddings (L2-normalized) are clustered with seeded spherical k-means; in
each cluster the items are walked in an order given by their cosine to the
centroid (`hard`: least prototypical first, so it is the one kept) and an
item is removed when its cosine to an earlier item reaches 1 − eps.
`compare_to="all"` compares with every earlier item, removed ones included,
so chains collapse (the reference behaviour); `"kept"` only with kept ones.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field


class SemanticConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool = False
    model: str | None = None  # None: the packaged all-MiniLM-L6-v2; any sentence-transformers dir or name
    eps: float = Field(0.01, gt=0, lt=1)  # remove at cosine >= 1 - eps
    order: Literal["hard", "easy", "random"] = "hard"
    compare_to: Literal["all", "kept"] = "all"
    k: int | None = Field(None, ge=1)  # None: max(1, round(n / cluster_size))
    cluster_size: int = Field(500, ge=1)
    kmeans_iters: int = Field(20, ge=1)
    seed: int = 1
    batch: int = Field(4096, ge=1)  # rows per similarity block
    embed_batch_size: int = Field(64, ge=1)
    skip_methods: list[str] = ["sql_exec"]  # see MinHashConfig.skip_methods


def _normalize(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms == 0, 1, norms)


def spherical_kmeans(x: np.ndarray, k: int, iters: int = 20, seed: int = 1, batch: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """(labels, unit centroids) of seeded cosine k-means with a fixed iteration budget."""
    n = x.shape[0]
    k = max(1, min(k, n))
    rng = np.random.default_rng(seed)
    centroids = x[np.sort(rng.choice(n, size=k, replace=False))].astype(np.float32)
    labels = np.full(n, -1, dtype=np.int64)
    for _ in range(iters):
        new_labels = np.empty(n, dtype=np.int64)
        for start in range(0, n, batch):
            new_labels[start : start + batch] = np.argmax(x[start : start + batch] @ centroids.T, axis=1)
        sums = np.zeros_like(centroids)
        np.add.at(sums, new_labels, x)
        filled = np.linalg.norm(sums, axis=1) > 0
        centroids[filled] = _normalize(sums[filled])  # an emptied cluster keeps its old centroid
        if np.array_equal(new_labels, labels):
            break
        labels = new_labels
    return labels, centroids


def _walk_order(members: np.ndarray, to_centroid: np.ndarray, order: str, rng: np.random.Generator) -> np.ndarray:
    if order == "hard":
        return members[np.argsort(to_centroid, kind="stable")]
    if order == "easy":
        return members[np.argsort(-to_centroid, kind="stable")]
    return members[rng.permutation(len(members))]


def _remove_all(x: np.ndarray, walk: np.ndarray, cutoff: float, batch: int, dup_of: np.ndarray, cosine: np.ndarray) -> None:
    """Compare each item with every earlier item in the walk (removed ones included).

    Similarities are computed in batch × batch blocks, so a huge cluster costs
    time, not memory.
    """
    emb = x[walk]
    for start in range(1, len(walk), batch):
        stop = min(start + batch, len(walk))
        rows = np.arange(start, stop)
        best_value = np.full(len(rows), -np.inf, dtype=np.float32)
        best_index = np.zeros(len(rows), dtype=np.int64)
        for col in range(0, stop - 1, batch):
            col_stop = min(col + batch, stop - 1)
            sims = emb[start:stop] @ emb[col:col_stop].T
            sims[np.arange(col, col_stop)[None, :] >= rows[:, None]] = -np.inf  # only earlier items count
            arg = np.argmax(sims, axis=1)
            value = sims[np.arange(len(rows)), arg]
            better = value > best_value
            best_value[better], best_index[better] = value[better], arg[better] + col
        hit = best_value >= cutoff
        dup_of[walk[rows[hit]]] = walk[best_index[hit]]
        cosine[walk[rows[hit]]] = best_value[hit]


def _remove_kept(x: np.ndarray, walk: np.ndarray, cutoff: float, dup_of: np.ndarray, cosine: np.ndarray) -> None:
    kept = [walk[0]]
    for item in walk[1:]:
        sims = x[kept] @ x[item]
        best = int(np.argmax(sims))
        if sims[best] >= cutoff:
            dup_of[item], cosine[item] = kept[best], sims[best]
        else:
            kept.append(item)


def semantic_dedup(
    embeddings: np.ndarray, cfg: SemanticConfig, labels: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, dict]:
    """(dup_of, cosine, stats): dup_of[i] = −1 for kept items, else the index it duplicates.

    `labels` skips k-means (one cluster per label); without them K is cfg.k or
    max(1, round(n / cluster_size)).
    """
    x = _normalize(np.asarray(embeddings, dtype=np.float32))
    n = x.shape[0]
    dup_of = np.full(n, -1, dtype=np.int64)
    cosine = np.zeros(n, dtype=np.float32)
    if n == 0:
        return dup_of, cosine, {"clusters": 0}
    if labels is None:
        k = cfg.k or max(1, round(n / cfg.cluster_size))
        labels, centroids = spherical_kmeans(x, k, cfg.kmeans_iters, cfg.seed, cfg.batch)
    else:
        labels = np.asarray(labels, dtype=np.int64)
        centroids = None
    cutoff = 1 - cfg.eps
    rng = np.random.default_rng(cfg.seed)
    order = np.argsort(labels, kind="stable")
    bounds = np.flatnonzero(np.diff(labels[order])) + 1
    clusters = np.split(order, bounds)
    for members in clusters:
        if len(members) < 2:
            continue
        label = labels[members[0]]
        if centroids is not None and label < len(centroids):
            centroid = centroids[label]
        else:
            centroid = _normalize(x[members].sum(axis=0, keepdims=True))[0]
        walk = _walk_order(members, x[members] @ centroid, cfg.order, rng)
        if cfg.compare_to == "all":
            _remove_all(x, walk, cutoff, cfg.batch, dup_of, cosine)
        else:
            _remove_kept(x, walk, cutoff, dup_of, cosine)
    return dup_of, cosine, {"clusters": len(clusters)}
