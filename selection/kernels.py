"""Similarity kernels: dense cosine for small n, kNN-sparse graphs for large n.

Convention used by every function here and in `submodular.py`: a kernel is
*facility-major*: row j holds s_ij for every represented item i, so the
facility-location gain of j reads one contiguous row. For cosine kernels the
matrix is symmetric and the convention costs nothing.

The kNN graph stores, for each item i, its k neighbours N(i) (self always
included) and s_ij. Facility location needs the inverse lists
R(j) = {i : j in N(i)}, kept as CSR arrays (`InverseLists`), so that memory is
O(n*k) and n = 1M with k = 100 fits in about 1.6 GB.

Exact kNN costs n^2 similarities; on a 2-core machine that is ~40 s of matmul
alone at n = 100k, so above `exact_max` the default is an IVF search (spherical
k-means cells, each cell probing its `nprobe` nearest cells). With
nprobe = nlist the IVF search is exact.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Literal

import numpy as np

KernelMode = Literal["clip", "raw"]


class NonFiniteError(ValueError):
    """Embeddings or a kernel hold NaN or inf; `rows` are the offending row indices."""

    def __init__(self, message: str, rows: list[int]):
        super().__init__(message)
        self.rows = rows


def require_finite(values: np.ndarray, what: str = "embeddings", ids: list | None = None, shown: int = 10) -> np.ndarray:
    """Raise NonFiniteError naming the rows of a 2-D array that hold NaN or ±inf; return the array.

    A NaN row makes every similarity with it NaN: greedy then compares NaN gains,
    which silently ends facility location with an empty selection and makes
    argmin/argmax fail elsewhere. `ids` (aligned with the rows) are named too.
    """
    values = np.asarray(values)
    # one reduction, no n x n boolean temporary: NaN and inf propagate through a sum
    if values.dtype.kind not in "fc" or np.isfinite(values.sum(dtype=np.float64)):
        return values
    rows = np.flatnonzero(~np.isfinite(values.reshape(len(values), -1)).all(axis=1)).tolist()
    if not rows:  # the sum overflowed on finite values
        return values
    listed = ", ".join(str(r) for r in rows[:shown]) + (f" and {len(rows) - shown} more" if len(rows) > shown else "")
    named = f" (ids: {', '.join(str(ids[r]) for r in rows[:shown])})" if ids is not None else ""
    raise NonFiniteError(f"{what}: {len(rows)} of {len(values)} rows hold NaN or inf: rows {listed}{named}", rows)


def normalize_rows(embeddings: np.ndarray) -> np.ndarray:
    """L2-normalize rows as float32; zero rows stay zero."""
    emb = np.asarray(embeddings, dtype=np.float32)
    norms = np.linalg.norm(emb, axis=1, keepdims=True)
    return emb / np.where(norms == 0, 1.0, norms)


def cosine_kernel(embeddings: np.ndarray, mode: KernelMode = "clip", others: np.ndarray | None = None) -> np.ndarray:
    """Dense cosine kernel (rows of `embeddings` x rows of `others`, default itself).

    `clip` gives max(0, cos), which facility location and graph cut need for
    their guarantees; `raw` is SMART's parity kernel. Inputs are assumed
    L2-normalized (the flow's embedding cache guarantees it).
    """
    emb = np.asarray(embeddings, dtype=np.float32)
    other = emb if others is None else np.asarray(others, dtype=np.float32)
    kernel = emb @ other.T
    if mode == "clip":
        np.maximum(kernel, 0.0, out=kernel)
    elif mode != "raw":
        raise ValueError(f"kernel mode must be 'clip' or 'raw', got {mode!r}")
    return kernel


def single_blas_thread():
    """Limit BLAS to one thread around loops of many small matmuls.

    OpenBLAS workers spin between calls; on a busy machine they starve the
    main thread (a 20k IVF search took 19 s with 2 threads and 1.1 s with 1).
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # optional: without it BLAS keeps its default threads
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


@dataclass
class KnnGraph:
    """N(i) for every item: `indices[i]` and `sims[i]` (k columns, self included)."""

    indices: np.ndarray  # (n, k) int32
    sims: np.ndarray  # (n, k) float32

    @property
    def n(self) -> int:
        return self.indices.shape[0]


@dataclass
class InverseLists:
    """R(j) as CSR: rows[indptr[j]:indptr[j+1]] are the i with j in N(i); vals are s_ij."""

    indptr: np.ndarray  # (n_facilities + 1,) int64
    rows: np.ndarray  # int32
    vals: np.ndarray  # float32
    n_represented: int

    @property
    def n_facilities(self) -> int:
        return len(self.indptr) - 1


def _top_k_rows(sims: np.ndarray, k: int, self_cols: np.ndarray | None) -> np.ndarray:
    """Column positions of the k largest entries per row, forcing self in when given."""
    if self_cols is not None:
        saved = sims[np.arange(len(sims)), self_cols].copy()
        sims[np.arange(len(sims)), self_cols] = np.inf
    if k >= sims.shape[1]:
        top = np.broadcast_to(np.arange(sims.shape[1]), sims.shape).copy()
    else:
        top = np.argpartition(sims, sims.shape[1] - k, axis=1)[:, -k:]
    if self_cols is not None:
        sims[np.arange(len(sims)), self_cols] = saved
    return top


def knn_from_kernel(kernel: np.ndarray, k: int) -> KnnGraph:
    """kNN lists read off a precomputed square kernel (exact; used in tests and small n)."""
    kernel = np.asarray(kernel, dtype=np.float32)
    n = kernel.shape[0]
    k = min(k, n)
    work = kernel.copy()
    top = _top_k_rows(work, k, np.arange(n))
    return KnnGraph(top.astype(np.int32), np.take_along_axis(kernel, top, axis=1).astype(np.float32))


def knn_exact(embeddings: np.ndarray, k: int, block: int = 1024) -> KnnGraph:
    """Exact inner-product kNN by blocks of rows: O(block * n) memory."""
    emb = np.asarray(embeddings, dtype=np.float32)
    n = len(emb)
    k = min(k, n)
    indices = np.empty((n, k), dtype=np.int32)
    sims = np.empty((n, k), dtype=np.float32)
    for start in range(0, n, block):
        rows = np.arange(start, min(start + block, n))
        block_sims = emb[rows] @ emb.T
        top = _top_k_rows(block_sims, k, rows)
        indices[rows] = top
        sims[rows] = np.take_along_axis(block_sims, top, axis=1)
    return KnnGraph(indices, sims)


def _spherical_kmeans(emb: np.ndarray, nlist: int, iters: int, rng: np.random.Generator) -> np.ndarray:
    sample_size = min(len(emb), max(64 * nlist, 10_000))
    sample = emb[np.sort(rng.choice(len(emb), sample_size, replace=False))]
    centroids = sample[np.sort(rng.choice(sample_size, nlist, replace=False))].copy()
    for _ in range(iters):
        assign = np.argmax(sample @ centroids.T, axis=1)
        sums = np.zeros_like(centroids)
        np.add.at(sums, assign, sample)
        counts = np.bincount(assign, minlength=nlist)
        empty = counts == 0
        # An empty cell restarts at a random sample point rather than vanishing.
        sums[empty] = sample[rng.choice(sample_size, int(empty.sum()), replace=False)]
        centroids = normalize_rows(sums)
    return centroids


def knn_ivf(
    embeddings: np.ndarray,
    k: int,
    nlist: int | None = None,
    nprobe: int = 48,
    iters: int = 8,
    seed: int = 0,
    block: int = 1024,
) -> KnnGraph:
    """Approximate kNN: each k-means cell searches the `nprobe` cells nearest its centroid.

    Deterministic for a seed. Recall grows with nprobe; nprobe >= nlist is exact.
    """
    with single_blas_thread():
        return _knn_ivf(np.asarray(embeddings, dtype=np.float32), k, nlist, nprobe, iters, seed, block)


def _knn_ivf(emb: np.ndarray, k: int, nlist: int | None, nprobe: int, iters: int, seed: int, block: int) -> KnnGraph:
    n = len(emb)
    k = min(k, n)
    nlist = nlist or max(1, int(round(np.sqrt(n))))
    nlist = min(nlist, n)
    rng = np.random.default_rng(seed)
    centroids = _spherical_kmeans(emb, nlist, iters, rng)
    assign = np.concatenate(
        [np.argmax(emb[s : s + 8192] @ centroids.T, axis=1) for s in range(0, n, 8192)]
    )
    order = np.argsort(assign, kind="stable")
    bounds = np.searchsorted(assign[order], np.arange(nlist + 1))
    members = [order[bounds[c] : bounds[c + 1]] for c in range(nlist)]
    cell_rank = np.argsort(-(centroids @ centroids.T), axis=1, kind="stable")
    indices = np.empty((n, k), dtype=np.int32)
    sims = np.empty((n, k), dtype=np.float32)
    for cell in range(nlist):
        queries = members[cell]
        if not len(queries):
            continue
        probes = [cell] + [c for c in cell_rank[cell][: nprobe + 1] if c != cell][: max(0, nprobe - 1)]
        cand = np.concatenate([members[c] for c in probes])
        extra = nprobe
        while len(cand) < k:  # tiny cells: widen the probe until k candidates exist
            extra += 1
            cand = np.concatenate([members[c] for c in cell_rank[cell][:extra]])
        cand = np.sort(cand)
        cand_emb = emb[cand]
        for start in range(0, len(queries), block):
            q = queries[start : start + block]
            block_sims = emb[q] @ cand_emb.T
            top = _top_k_rows(block_sims, k, np.searchsorted(cand, q))
            indices[q] = cand[top]
            sims[q] = np.take_along_axis(block_sims, top, axis=1)
    return KnnGraph(indices, sims)


def knn_graph(
    embeddings: np.ndarray,
    k: int,
    method: Literal["auto", "exact", "ivf"] = "auto",
    exact_max: int = 20_000,
    seed: int = 0,
    nprobe: int = 48,
) -> KnnGraph:
    require_finite(embeddings)
    if method == "exact" or (method == "auto" and len(embeddings) <= exact_max):
        return knn_exact(embeddings, k)
    if method not in ("auto", "ivf"):
        raise ValueError(f"knn method must be auto, exact or ivf, got {method!r}")
    return knn_ivf(embeddings, k, seed=seed, nprobe=nprobe)


def inverse_lists(graph: KnnGraph, clip: bool = True) -> InverseLists:
    """Build R(j) from N(i). Within each list rows are ascending (stable sort), so sums are reproducible."""
    n, k = graph.indices.shape
    cols = graph.indices.ravel()
    order = np.argsort(cols, kind="stable")
    counts = np.bincount(cols, minlength=n)
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    rows = (order // k).astype(np.int32)
    vals = graph.sims.ravel()[order].astype(np.float32)
    if clip:
        np.maximum(vals, 0.0, out=vals)
    return InverseLists(indptr, rows, vals, n)
