"""Hot loops of MinHash: xxh64 of shingles, the permutation minimum, set overlap.

With numba (installed with vLLM) these are compiled loops over flat arrays;
without it, the same arithmetic runs as numpy (`HAVE_NUMBA` says which). Both
give identical results bit for bit; tests compare them.

Permutations are h(x) = (a·x + b) mod p with p = 2^61 − 1. a·x needs 122
bits, so a and x are split into 32-bit halves and the partial products are
folded with 2^61 ≡ 1 (mod p): every intermediate stays below 2^64.
"""

from __future__ import annotations

import numpy as np
import xxhash

try:  # pragma: no cover - exercised when numba is present
    from numba import njit

    HAVE_NUMBA = True
except ImportError:  # pragma: no cover
    HAVE_NUMBA = False

    def njit(*args, **kwargs):
        def wrap(fn):
            return fn

        return wrap


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


@njit(cache=True, inline="always")
def _rotl(x, r):
    return (x << r) | (x >> (np.uint64(64) - r))


@njit(cache=True, inline="always")
def _read64(buf, i):
    v = np.uint64(0)
    for k in range(8):
        v |= np.uint64(buf[i + k]) << np.uint64(8 * k)
    return v


@njit(cache=True, inline="always")
def _read32(buf, i):
    v = np.uint64(0)
    for k in range(4):
        v |= np.uint64(buf[i + k]) << np.uint64(8 * k)
    return v


@njit(cache=True, inline="always")
def _round(acc, lane):
    acc = acc + lane * _P2
    return _rotl(acc, _U31) * _P1


@njit(cache=True, inline="always")
def _merge(acc, val):
    acc ^= _round(np.uint64(0), val)
    return acc * _P1 + _P4


@njit(cache=True)
def xxh64_slice(buf, start, end):
    """XXH64 with seed 0 of buf[start:end] (the reference algorithm)."""
    length = end - start
    i = start
    if length >= 32:
        v1 = _P1 + _P2
        v2 = _P2
        v3 = np.uint64(0)
        v4 = np.uint64(0) - _P1
        while i + 32 <= end:
            v1 = _round(v1, _read64(buf, i))
            v2 = _round(v2, _read64(buf, i + 8))
            v3 = _round(v3, _read64(buf, i + 16))
            v4 = _round(v4, _read64(buf, i + 24))
            i += 32
        h = _rotl(v1, _U1) + _rotl(v2, _U7) + _rotl(v3, _U12) + _rotl(v4, _U18)
        h = _merge(h, v1)
        h = _merge(h, v2)
        h = _merge(h, v3)
        h = _merge(h, v4)
    else:
        h = _P5
    h += np.uint64(length)
    while i + 8 <= end:
        h ^= _round(np.uint64(0), _read64(buf, i))
        h = _rotl(h, _U27) * _P1 + _P4
        i += 8
    if i + 4 <= end:
        h ^= _read32(buf, i) * _P1
        h = _rotl(h, _U23) * _P2 + _P3
        i += 4
    while i < end:
        h ^= np.uint64(buf[i]) * _P5
        h = _rotl(h, _U11) * _P1
        i += 1
    h ^= h >> _U33
    h *= _P2
    h ^= h >> _U29
    h *= _P3
    h ^= h >> _U32
    return h


@njit(cache=True)
def _char_shingle_hashes(buf, offsets, n, unique):
    """Per text (buf[offsets[t]:offsets[t+1]], UTF-8): xxh64 of its char n-grams.

    A text of fewer than n characters is one shingle (itself). With `unique`
    each text's hashes are sorted and deduplicated (a set, for Jaccard);
    signatures do not need that, and sorting is most of this loop's cost.
    """
    count = len(offsets) - 1
    total = 0
    for t in range(count):
        total += max(1, offsets[t + 1] - offsets[t])  # shingles <= chars <= bytes
    out = np.empty(total, dtype=np.uint64)
    out_offsets = np.zeros(count + 1, dtype=np.int64)
    starts = np.empty(max(1, offsets[-1] - offsets[0]) + 1, dtype=np.int64)
    pos = 0
    for t in range(count):
        lo, hi = offsets[t], offsets[t + 1]
        chars = 0
        for i in range(lo, hi):
            if (buf[i] & 0xC0) != 0x80:  # not a UTF-8 continuation byte
                starts[chars] = i
                chars += 1
        starts[chars] = hi
        first = pos
        if chars < n:
            out[pos] = xxh64_slice(buf, lo, hi)
            pos += 1
        else:
            for s in range(chars - n + 1):
                out[pos] = xxh64_slice(buf, starts[s], starts[s + n])
                pos += 1
        if not unique:
            out_offsets[t + 1] = pos
            continue
        out[first:pos].sort()
        kept = first + 1
        for k in range(first + 1, pos):
            if out[k] != out[kept - 1]:
                out[kept] = out[k]
                kept += 1
        pos = kept
        out_offsets[t + 1] = pos
    return out[:pos].copy(), out_offsets


@njit(cache=True)
def _signatures_numba(hashes, offsets, a, b):
    count = len(offsets) - 1
    num_perm = len(a)
    sig = np.empty((count, num_perm), dtype=np.uint64)
    # 32-bit halves stored as uint32: the compiler then emits 32x32->64 vector multiplies
    a_hi = (a >> _U32).astype(np.uint32)
    a_lo = (a & _M32).astype(np.uint32)
    # every value after the fold is < 2^62, so comparisons can be signed (native in AVX2)
    b_signed = b.astype(np.int64)
    best = np.empty(num_perm, dtype=np.int64)
    for t in range(count):
        best[:] = _P_SIGNED
        for s in range(offsets[t], offsets[t + 1]):
            x = hashes[s]
            x = (x & MERSENNE_61) + (x >> _U61)
            if x >= MERSENNE_61:
                x -= MERSENNE_61
            x_hi = np.uint64(np.uint32(x >> _U32))
            x_lo = np.uint64(np.uint32(x & _M32))
            for k in range(num_perm):
                ah = np.uint64(a_hi[k])
                al = np.uint64(a_lo[k])
                lo = al * x_lo
                mid = ah * x_lo + al * x_hi
                r = (lo & MERSENNE_61) + (lo >> _U61) + (mid >> _U29) + ((mid & _M29) << _U32) + ((ah * x_hi) << _U3)
                folded = np.int64((r & MERSENNE_61) + (r >> _U61))
                folded = folded - _P_SIGNED if folded >= _P_SIGNED else folded
                h = folded + b_signed[k]
                h = h - _P_SIGNED if h >= _P_SIGNED else h
                best[k] = min(best[k], h)
        for k in range(num_perm):
            sig[t, k] = np.uint64(best[k])
    return sig


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
    if HAVE_NUMBA:
        return _signatures_numba(hashes, offsets, a, b)
    return _signatures_numpy(hashes, offsets, a, b)


def char_shingle_hashes(texts: list[str] | list[bytes], n: int, unique: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """CSR (hashes, offsets) of xxh64 char n-gram hashes per text (str, or UTF-8 bytes; sorted sets if `unique`)."""
    encoded = [t if isinstance(t, bytes) else t.encode("utf-8", errors="surrogatepass") for t in texts]
    if HAVE_NUMBA:
        offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
        np.cumsum([len(e) for e in encoded], out=offsets[1:])
        buf = np.frombuffer(b"".join(encoded), dtype=np.uint8) if offsets[-1] else np.zeros(1, dtype=np.uint8)
        return _char_shingle_hashes(buf, offsets, n, unique)
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


@njit(cache=True)
def _jaccard_numba(hashes, offsets, rows_i, rows_j):
    out = np.empty(len(rows_i), dtype=np.float64)
    for k in range(len(rows_i)):
        i0, i1 = offsets[rows_i[k]], offsets[rows_i[k] + 1]
        j0, j1 = offsets[rows_j[k]], offsets[rows_j[k] + 1]
        size = (i1 - i0) + (j1 - j0)
        common = 0
        while i0 < i1 and j0 < j1:
            if hashes[i0] == hashes[j0]:
                common += 1
                i0 += 1
                j0 += 1
            elif hashes[i0] < hashes[j0]:
                i0 += 1
            else:
                j0 += 1
        union = size - common
        out[k] = common / union if union else 1.0
    return out


def jaccard_rows(hashes: np.ndarray, offsets: np.ndarray, rows_i: np.ndarray, rows_j: np.ndarray) -> np.ndarray:
    """Exact Jaccard of CSR rows rows_i[k] and rows_j[k] (sorted unique sets)."""
    rows_i = np.ascontiguousarray(rows_i, dtype=np.int64)
    rows_j = np.ascontiguousarray(rows_j, dtype=np.int64)
    if HAVE_NUMBA:
        return _jaccard_numba(np.ascontiguousarray(hashes, dtype=np.uint64), offsets, rows_i, rows_j)
    out = np.empty(len(rows_i), dtype=np.float64)
    for k, (i, j) in enumerate(zip(rows_i, rows_j)):
        x, y = hashes[offsets[i] : offsets[i + 1]], hashes[offsets[j] : offsets[j + 1]]
        common = len(np.intersect1d(x, y, assume_unique=True))
        union = len(x) + len(y) - common
        out[k] = common / union if union else 1.0
    return out
