"""Set functions for greedy selection (spec §1), each a small stateful object.

Interface used by the optimizers in `greedy.py`:
- `gains(cand)`: fresh marginal gains Δ(j | X) for an int array of candidates;
- `add(j)`: put j into X and update the per-step state;
- `objective()`: f(X) for the current X;
- `submodular`: False for disparity-sum, whose gains grow with X, so stale
  lazy bounds would be wrong.

Kernels are facility-major (`kernel[j, i] = s_ij`, see kernels.py). Graph cut,
log-det and disparity-sum also accept embeddings instead of a kernel: with the
linear cosine kernel every quantity is an inner product, so no n x n matrix is
ever built (spec §1 "GC without a kernel").
"""

from __future__ import annotations

import math

import numpy as np

from selection.kernels import InverseLists, require_finite


class SetFunction:
    name = "set_function"
    submodular = True
    n: int

    def gains(self, cand: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def add(self, j: int) -> None:
        raise NotImplementedError

    def objective(self) -> float:
        raise NotImplementedError


class FacilityLocation(SetFunction):
    """f(X) = Σ_i max_{j∈X} s_ij on a dense facility-major kernel (s >= 0).

    Rectangular kernels give candidate restriction: rows are the facilities C,
    columns the represented set (all of V).
    """

    name = "facility_location"

    def __init__(self, kernel: np.ndarray):
        self.kernel = np.asarray(kernel)
        if self.kernel.ndim != 2:
            raise ValueError("facility location needs a 2-D kernel")
        require_finite(self.kernel, "facility location kernel")
        self.n = self.kernel.shape[0]
        # m_i in the kernel's dtype: float32 kernels stay float32 in the hot loop.
        dtype = self.kernel.dtype if self.kernel.dtype in (np.float32, np.float64) else np.float64
        self.best = np.zeros(self.kernel.shape[1], dtype=dtype)

        self.best_sum = 0.0  # Σ_i m_i, summed exactly as the rows in `gains` are

    def gains(self, cand: np.ndarray) -> np.ndarray:
        # Σ_i max(0, s_ij − m_i) = Σ_i max(s_ij, m_i) − Σ_i m_i: max() is exact in float32 (no
        # rounded differences) and this takes two passes over the rows instead of three.
        rows = self.kernel[cand]
        np.maximum(rows, self.best, out=rows)
        return np.add.reduce(rows, axis=1, dtype=np.float64) - self.best_sum

    def add(self, j: int) -> None:
        np.maximum(self.best, self.kernel[j], out=self.best)
        self.best_sum = float(np.add.reduce(self.best[None, :], axis=1, dtype=np.float64)[0])

    def objective(self) -> float:
        return self.best_sum


class SparseFacilityLocation(SetFunction):
    """Facility location on kNN inverse lists: gain(j) = Σ_{i∈R(j)} max(0, s_ij − m_i)."""

    name = "facility_location"

    def __init__(self, lists: InverseLists):
        self.lists = lists
        self.n = lists.n_facilities
        self.best = np.zeros(lists.n_represented, dtype=np.float64)

    CHUNK_ENTRIES = 1 << 21  # bounds the temporaries of one call (~100 MB) even when scoring all n

    def gains(self, cand: np.ndarray) -> np.ndarray:
        indptr = self.lists.indptr
        cand = np.asarray(cand)
        if len(cand) > 1 and indptr[-1] > self.CHUNK_ENTRIES:
            lens = indptr[cand + 1] - indptr[cand]
            if lens.sum() > self.CHUNK_ENTRIES:
                cuts = np.searchsorted(np.cumsum(lens), np.arange(self.CHUNK_ENTRIES, lens.sum(), self.CHUNK_ENTRIES))
                return np.concatenate([self._gains(part) for part in np.split(cand, cuts) if len(part)])
        return self._gains(cand)

    def _gains(self, cand: np.ndarray) -> np.ndarray:
        indptr, rows, vals = self.lists.indptr, self.lists.rows, self.lists.vals
        if len(cand) == 1:
            lo, hi = indptr[cand[0]], indptr[cand[0] + 1]
            gain = np.maximum(vals[lo:hi] - self.best[rows[lo:hi]], 0).sum()
            return np.array([gain], dtype=np.float64)
        starts, lens = indptr[cand], indptr[cand + 1] - indptr[cand]
        total = int(lens.sum())
        segment = np.repeat(np.arange(len(cand)), lens)
        offsets = np.cumsum(lens) - lens
        flat = np.arange(total) - np.repeat(offsets, lens) + np.repeat(starts, lens)
        contrib = np.maximum(vals[flat] - self.best[rows[flat]], 0)
        return np.bincount(segment, weights=contrib, minlength=len(cand))

    def add(self, j: int) -> None:
        lo, hi = self.lists.indptr[j], self.lists.indptr[j + 1]
        idx = self.lists.rows[lo:hi]
        self.best[idx] = np.maximum(self.best[idx], self.lists.vals[lo:hi])

    def objective(self) -> float:
        return float(self.best.sum())


class _KernelOrEmbeddings(SetFunction):
    """Shared plumbing: s_j· from a square kernel, or e_j·Eᵀ from embeddings."""

    def __init__(self, kernel: np.ndarray | None, embeddings: np.ndarray | None):
        if (kernel is None) == (embeddings is None):
            raise ValueError(f"{self.name}: pass exactly one of kernel or embeddings")
        if kernel is not None:
            kernel = np.asarray(kernel, dtype=np.float64)
            if kernel.ndim != 2 or kernel.shape[0] != kernel.shape[1]:
                raise ValueError(f"{self.name}: kernel must be square, got {kernel.shape}")
            require_finite(kernel, f"{self.name} kernel")
            self.diag = np.diag(kernel).copy()
        else:
            embeddings = require_finite(np.asarray(embeddings, dtype=np.float64), f"{self.name} embeddings")
            self.diag = np.einsum("ij,ij->i", embeddings, embeddings)
        self.kernel, self.emb = kernel, embeddings
        self.n = len(self.diag)
        self.selected: list[int] = []
        self.total = 0.0  # Σ of gains taken: equals f(X) for these functions

    def row(self, j: int) -> np.ndarray:
        return self.kernel[j] if self.kernel is not None else self.emb @ self.emb[j]

    def objective(self) -> float:
        return self.total


class _SimilarityToSelected(_KernelOrEmbeddings):
    """Functions whose gain needs Σ_{i∈X} s_ij: kept as a vector (kernel) or a running embedding sum."""

    def __init__(self, kernel: np.ndarray | None = None, embeddings: np.ndarray | None = None):
        super().__init__(kernel, embeddings)
        if self.kernel is not None:
            self.in_x = np.zeros(self.n)
        else:
            self.x_sum = np.zeros(self.emb.shape[1])

    def similarity_to_selected(self, cand: np.ndarray) -> np.ndarray:
        return self.in_x[cand] if self.kernel is not None else self.emb[cand] @ self.x_sum

    def add(self, j: int) -> None:
        self.total += float(self.gains(np.array([j]))[0])
        if self.kernel is not None:
            self.in_x += self.kernel[j]
        else:
            self.x_sum += self.emb[j]
        self.selected.append(j)


class GraphCut(_SimilarityToSelected):
    """f(X) = Σ_{i∈V, j∈X} s_ij − λ Σ_{i,j∈X} s_ij (λ on the redundancy term; apricot puts it on coverage)."""

    name = "graph_cut"

    def __init__(self, kernel=None, embeddings=None, lam: float = 0.4):
        super().__init__(kernel, embeddings)
        self.lam = lam
        # Gains only shrink as X grows when s >= 0; raw cosine with negative entries breaks
        # submodularity, so lazy bounds would be wrong (run_greedy then uses naive).
        values = self.kernel if self.kernel is not None else self.emb
        self.submodular = bool(values.min(initial=0.0) >= 0) and lam >= 0
        # colsum_j = e_j·Σ_i e_i with a linear kernel: no n×n matrix needed
        self.colsum = self.kernel.sum(axis=1) if self.kernel is not None else self.emb @ self.emb.sum(axis=0)

    def gains(self, cand: np.ndarray) -> np.ndarray:
        return self.colsum[cand] - 2 * self.lam * self.similarity_to_selected(cand) - self.lam * self.diag[cand]


class LogDet(_KernelOrEmbeddings):
    """f(X) = log det(S_X + λI) by incremental Cholesky (Chen et al. 2018): gain = log d_j²."""

    name = "logdet"

    def __init__(self, kernel=None, embeddings=None, lam: float = 1.0, capacity: int = 64):
        super().__init__(kernel, embeddings)
        self.lam = lam
        self.d2 = self.diag + lam  # L_jj − ‖c_j‖²
        self.chol = np.zeros((self.n, capacity))

    def gains(self, cand: np.ndarray) -> np.ndarray:
        d2 = self.d2[cand]
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(d2 > 0, np.log(np.where(d2 > 0, d2, 1.0)), -np.inf)

    def add(self, j: int) -> None:
        t = len(self.selected)
        if t == self.chol.shape[1]:
            self.chol = np.concatenate([self.chol, np.zeros_like(self.chol)], axis=1)
        dj = self.d2[j]
        self.total += math.log(dj)
        row = self.row(j).astype(np.float64, copy=True)
        row[j] += self.lam
        e = (row - self.chol[:, :t] @ self.chol[j, :t]) / math.sqrt(dj)
        self.chol[:, t] = e
        self.d2 -= e * e
        self.d2[j] = 0.0
        self.selected.append(j)


class DisparitySum(_SimilarityToSelected):
    """f(X) = Σ_{i<j∈X} (1 − s_ij). Supermodular: greedy is a heuristic, and lazy bounds are invalid."""

    name = "disparity_sum"
    submodular = False

    def gains(self, cand: np.ndarray) -> np.ndarray:
        return len(self.selected) - self.similarity_to_selected(cand)
