"""The numba-compiled MinHash loops of `filters/_kernels.py`, imported by it on first use.

Kept apart so that importing `filters` does not load numba/llvmlite (see `_kernels.compiled`).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from filters._kernels import (
    _M29, _M32, _P1, _P2, _P3, _P4, _P5, _P_SIGNED, _U1, _U3, _U7, _U11, _U12, _U18, _U23, _U27, _U29, _U31, _U32, _U33, _U61,
    MERSENNE_61,
)  # fmt: skip


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
