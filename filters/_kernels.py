"""Hot loops of MinHash: xxh64 of shingles, the permutation minimum, set overlap.

With numba (installed with vLLM) these are compiled loops over flat arrays
(`_kernels_numba.py`, imported on first use);
without it, the same arithmetic runs as numpy (`HAVE_NUMBA` says which). Both
give identical results bit for bit; tests compare them.

Permutations are h(x) = (a·x + b) mod p with p = 2^61 − 1. a·x needs 122
bits, so a and x are split into 32-bit halves and the partial products are
folded with 2^61 ≡ 1 (mod p): every intermediate stays below 2^64.
"""

from __future__ import annotations

import importlib.util
from typing import Any

import numpy as np
import xxhash

# numba is imported on first use, not here (`compiled()`): vLLM's CPU worker scans every loaded
# module's attributes at start-up and fails on llvmlite's `ffi.lib` (its `__getattr__` answers
# `__dict__` with a C-function wrapper), and a spawned worker re-imports the script that started
# it, so a plain `import filters` at the top of a script must not load llvmlite.
HAVE_NUMBA = importlib.util.find_spec("numba") is not None
_COMPILED: Any = None


def compiled() -> Any:
    """The module of numba-compiled kernels (`filters/_kernels_numba.py`), imported on first use; None without numba."""
    global _COMPILED, HAVE_NUMBA
    if _COMPILED is None and HAVE_NUMBA:
        try:
            from filters import _kernels_numba
        except ImportError:  # pragma: no cover - numba present but unusable
            HAVE_NUMBA = False
        else:
            _COMPILED = _kernels_numba
    return _COMPILED


def __getattr__(name: str) -> Any:
    """`_kernels.xxh64_slice` and the other compiled kernels, loaded on first access."""
    if name in ("xxh64_slice", "_char_shingle_hashes", "_signatures_numba", "_jaccard_numba") and compiled() is not None:
        return getattr(_COMPILED, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


MERSENNE_61 = np.uint64((1 << 61) - 1)
_P_SIGNED = np.int64((1 << 61) - 1)
_M32 = np.uint64(0xFFFFFFFF)
_M29 = np.uint64((1 << 29) - 1)
_P1 = np.uint64(0x9E3779B185EBCA87)
_P2 = np.uint64(0xC2B2AE3D27D4EB4F)
_P3 = np.uint64(0x165667B19E3779F9)
_P4 = np.uint64(0x85EBCA77C2B2AE63)
_P5 = np.uint64(0x27D4EB2F165667C5)
_U1, _U3, _U7, _U11, _U12, _U18 = (np.uint64(v) for v in (1, 3, 7, 11, 12, 18))
_U23, _U27, _U29, _U31, _U32, _U33, _U61 = (np.uint64(v) for v in (23, 27, 29, 31, 32, 33, 61))


def _signatures_numpy(hashes, offsets, a, b, chunk: int = 4096):
    x = (hashes & MERSENNE_61) + (hashes >> _U61)
    x = np.where(x >= MERSENNE_61, x - MERSENNE_61, x)
    a_hi, a_lo = (a >> _U32)[:, None], (a & _M32)[:, None]
    values = np.empty((len(a), len(x)), dtype=np.uint64)
    for start in range(0, len(x), chunk):
        x_hi, x_lo = x[None, start : start + chunk] >> _U32, x[None, start : start + chunk] & _M32
        lo = a_lo * x_lo
        mid = a_hi * x_lo + a_lo * x_hi
        r = (lo & MERSENNE_61) + (lo >> _U61) + (mid >> _U29) + ((mid & _M29) << _U32) + ((a_hi * x_hi) << _U3)
        r = (r & MERSENNE_61) + (r >> _U61)
        r = np.where(r >= MERSENNE_61, r - MERSENNE_61, r) + b[:, None]
        values[:, start : start + chunk] = np.where(r >= MERSENNE_61, r - MERSENNE_61, r)
    starts = offsets[:-1]
    sig = np.full((len(starts), len(a)), MERSENNE_61, dtype=np.uint64)
    nonempty = offsets[1:] > starts
    if nonempty.any():
        sig[nonempty] = np.minimum.reduceat(values, starts[nonempty], axis=1).T
    return sig


def signatures(hashes: np.ndarray, offsets: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(texts, num_perm) uint64 MinHash signatures from CSR shingle hashes."""
    hashes = np.ascontiguousarray(hashes, dtype=np.uint64)
    offsets = np.ascontiguousarray(offsets, dtype=np.int64)
    if HAVE_NUMBA and compiled() is not None:
        return _COMPILED._signatures_numba(hashes, offsets, a, b)
    return _signatures_numpy(hashes, offsets, a, b)


def char_shingle_hashes(texts: list[str] | list[bytes], n: int, unique: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """CSR (hashes, offsets) of xxh64 char n-gram hashes per text (str, or UTF-8 bytes; sorted sets if `unique`)."""
    encoded = [t if isinstance(t, bytes) else t.encode("utf-8", errors="surrogatepass") for t in texts]
    if HAVE_NUMBA and compiled() is not None:
        offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
        np.cumsum([len(e) for e in encoded], out=offsets[1:])
        buf = np.frombuffer(b"".join(encoded), dtype=np.uint8) if offsets[-1] else np.zeros(1, dtype=np.uint8)
        return _COMPILED._char_shingle_hashes(buf, offsets, n, unique)
    return csr_from_sets(
        [xxhash.xxh64_intdigest(e) for e in _char_ngrams(data.decode("utf-8", errors="surrogatepass"), n)] for data in encoded
    )


def _char_ngrams(text: str, n: int) -> list[bytes]:
    if len(text) < n:
        return [text.encode("utf-8", errors="surrogatepass")]
    return [text[i : i + n].encode("utf-8", errors="surrogatepass") for i in range(len(text) - n + 1)]


def csr_from_sets(hash_lists) -> tuple[np.ndarray, np.ndarray]:
    arrays = [np.unique(np.asarray(h, dtype=np.uint64)) for h in hash_lists]
    offsets = np.zeros(len(arrays) + 1, dtype=np.int64)
    np.cumsum([len(x) for x in arrays], out=offsets[1:])
    hashes = np.concatenate(arrays) if arrays else np.zeros(0, dtype=np.uint64)
    return hashes.astype(np.uint64), offsets


def jaccard_rows(hashes: np.ndarray, offsets: np.ndarray, rows_i: np.ndarray, rows_j: np.ndarray) -> np.ndarray:
    """Exact Jaccard of CSR rows rows_i[k] and rows_j[k] (sorted unique sets)."""
    rows_i = np.ascontiguousarray(rows_i, dtype=np.int64)
    rows_j = np.ascontiguousarray(rows_j, dtype=np.int64)
    if HAVE_NUMBA and compiled() is not None:
        return _COMPILED._jaccard_numba(np.ascontiguousarray(hashes, dtype=np.uint64), offsets, rows_i, rows_j)
    out = np.empty(len(rows_i), dtype=np.float64)
    for k, (i, j) in enumerate(zip(rows_i, rows_j)):
        x, y = hashes[offsets[i] : offsets[i + 1]], hashes[offsets[j] : offsets[j + 1]]
        common = len(np.intersect1d(x, y, assume_unique=True))
        union = len(x) + len(y) - common
        out[k] = common / union if union else 1.0
    return out
