"""Compression-based scores (spec §5, §6): ZIP-FIT alignment, compression ratio, n-gram diversity.

NCD(x, t) = (C(x⊕t) − min(C(x), C(t))) / max(C(x), C(t)), source first, no
separator; C is the gzip length (gzip.compress framing: 10-byte header,
8-byte trailer). ZIP-FIT's align(x) = 1 − mean_j NCD(x, t_j).

Why the fast path is exact: DEFLATE output for a stream does not depend on how
the input is chunked, so compressing x once into a `compressobj` and, per
target, compressing t into a `copy()` of it and flushing gives byte-identical
lengths to one-shot gzip of x⊕t. C(x) and C(t) are computed once each. The
copy costs a fixed ~256 KB memcpy, so short sources (< COPY_MIN_BYTES) are
compressed one-shot instead; both paths give the same bytes.

Level 0 is refused: it stores data, so C(s) = |s| + 23 and NCD depends only on
lengths (short sources win). DEFLATE only looks back 32 KB, so NCD(x, x) grows
for long texts; beyond that the run switches to lzma/zstd or truncates.
"""

from __future__ import annotations

import ctypes
import gzip
import io
import lzma
import math
import os
import warnings
import zlib
from concurrent.futures import ProcessPoolExecutor
from typing import Sequence

import numpy as np

GZIP_WINDOW = 32 * 1024
_GZIP_WBITS = 31  # zlib wrapper bits for gzip framing; same length as gzip.compress


def check_level(level: int, compressor: str = "gzip") -> None:
    if compressor == "gzip" and level < 1:
        raise ValueError(
            f"gzip level {level} is refused: level 0 stores the data uncompressed, so NCD measures only "
            "lengths; use level 1 (ZIP-FIT's setting) to 9"
        )
    if compressor == "gzip" and level > 9:
        raise ValueError(f"gzip level must be 1..9, got {level}")


def _zstd_compressor(level: int):
    try:
        import zstandard
    except ImportError as exc:  # optional dependency
        raise ImportError("compressor='zstd' needs the `zstandard` package") from exc
    # A long window (128 MB) so NCD sees repeats across long sources and targets.
    params = zstandard.ZstdCompressionParameters.from_level(level, window_log=27)
    return zstandard.ZstdCompressor(compression_params=params)


def compressed_size(data: bytes, compressor: str = "gzip", level: int = 1) -> int:
    """C(s) in bytes. No level check here: tests use it to show why level 0 is refused."""
    if compressor == "gzip":
        return len(zlib.compress(data, level, _GZIP_WBITS))
    if compressor == "lzma":
        return len(lzma.compress(data, preset=level))
    if compressor == "zstd":
        return len(_zstd_compressor(level).compress(data))
    raise ValueError(f"compressor must be gzip, zstd or lzma, got {compressor!r}")


def ncd_from_sizes(c_x: int, c_t: int, c_xt: int) -> float:
    return (c_xt - min(c_x, c_t)) / max(c_x, c_t)


def ncd(x: str, t: str, level: int = 1, compressor: str = "gzip") -> float:
    check_level(level, compressor)
    xb, tb = x.encode("utf-8"), t.encode("utf-8")
    sizes = [compressed_size(s, compressor, level) for s in (xb, tb, xb + tb)]
    return ncd_from_sizes(*sizes)


# Below this source length a one-shot compress of x⊕t is cheaper than copying the
# compressor state (~256 KB of window, hash and pending buffers) per target.
COPY_MIN_BYTES = 1024


def concat_sizes_cached(source: bytes, targets: Sequence[bytes], level: int) -> tuple[int, list[int]]:
    """(C(source), [C(source⊕t) for t]) compressing the source prefix once (gzip only)."""
    prefix = zlib.compressobj(level, zlib.DEFLATED, _GZIP_WBITS)
    head = len(prefix.compress(source))
    sizes = []
    for t in targets:
        branch = prefix.copy()
        sizes.append(head + len(branch.compress(t)) + len(branch.flush()))
    return head + len(prefix.flush()), sizes


# Worker state for the process pool: targets are sent once per worker, not once per task.
_POOL_STATE: dict = {}
POOL_MIN_PAIRS = 2000  # below this, process start-up costs more than it saves


def tune_allocator() -> bool:
    """Keep freed heap memory instead of returning it to the OS (glibc M_TRIM_THRESHOLD = 64 MB).

    Each zlib compressor allocates ~256 KB; with glibc's default 128 KB trim
    threshold every free gives the pages back and every new compressor faults
    them in again, which made a 1 KB gzip call ~15x slower on our 2-core host.
    Process-wide, so it runs only inside our scoring worker processes.
    """
    try:
        return bool(ctypes.CDLL("libc.so.6").mallopt(-1, 64 << 20))  # -1 = M_TRIM_THRESHOLD
    except (OSError, AttributeError):  # not glibc: nothing to tune
        return False


def _init_worker(targets: list[bytes], target_sizes: list[int], compressor: str, level: int, tune: bool = False) -> None:
    if tune:
        tune_allocator()
    _POOL_STATE.update(targets=targets, target_sizes=target_sizes, compressor=compressor, level=level)


def _score_sources(sources: list[bytes]) -> list[float]:
    targets, target_sizes = _POOL_STATE["targets"], _POOL_STATE["target_sizes"]
    compressor, level = _POOL_STATE["compressor"], _POOL_STATE["level"]
    scores = []
    for x in sources:
        if compressor == "gzip" and len(x) >= COPY_MIN_BYTES:
            c_x, joint = concat_sizes_cached(x, targets, level)
        else:
            c_x = compressed_size(x, compressor, level)
            joint = [compressed_size(x + t, compressor, level) for t in targets]
        # Summed in target order, exactly as the naive reference does, so scores are bit-identical.
        total = 0.0
        for c_t, c_xt in zip(target_sizes, joint):
            total += ncd_from_sizes(c_x, c_t, c_xt)
        scores.append(1.0 - total / len(targets))
    return scores


def _resolve_long_texts(
    sources: list[bytes], targets: list[bytes], compressor: str, long_text: str
) -> tuple[list[bytes], list[bytes], str]:
    if compressor != "gzip" or not sources or not targets:
        return sources, targets, compressor
    longest = max(map(len, sources)) + max(map(len, targets))
    if longest <= GZIP_WINDOW:
        return sources, targets, compressor
    if long_text == "truncate":
        half = GZIP_WINDOW // 2
        warnings.warn(f"ZIP-FIT: texts truncated to {half} bytes each to stay inside gzip's 32 KB window")
        return [s[:half] for s in sources], [t[:half] for t in targets], compressor
    if long_text == "warn":
        warnings.warn(f"ZIP-FIT: source+target reach {longest} bytes > gzip's 32 KB window; NCD is biased")
        return sources, targets, compressor
    warnings.warn(f"ZIP-FIT: source+target reach {longest} bytes > gzip's 32 KB window; using {long_text}")
    return sources, targets, long_text


def zipfit_scores(
    sources: Sequence[str],
    targets: Sequence[str],
    level: int = 1,
    compressor: str = "gzip",
    workers: int = 1,
    long_text: str = "lzma",
) -> np.ndarray:
    """align(x) = 1 − mean_j NCD(x, t_j) for every source; higher is closer to the target set."""
    check_level(level, compressor)
    if not targets:
        raise ValueError("ZIP-FIT needs at least one target text")
    src = [s.encode("utf-8") for s in sources]
    tgt = [t.encode("utf-8") for t in targets]
    src, tgt, compressor = _resolve_long_texts(src, tgt, compressor, long_text)
    target_sizes = [compressed_size(t, compressor, level) for t in tgt]
    if workers <= 1 or len(src) * len(tgt) < POOL_MIN_PAIRS or len(src) < 2:
        _init_worker(tgt, target_sizes, compressor, level)
        return np.array(_score_sources(src), dtype=np.float64)
    chunk = math.ceil(len(src) / (workers * 4))
    chunks = [src[i : i + chunk] for i in range(0, len(src), chunk)]
    state = (tgt, target_sizes, compressor, level, True)
    with ProcessPoolExecutor(max_workers=workers, initializer=_init_worker, initargs=state) as pool:
        parts = list(pool.map(_score_sources, chunks))
    return np.array([s for part in parts for s in part], dtype=np.float64)


def zipfit_scores_naive(sources: Sequence[str], targets: Sequence[str], level: int = 1) -> np.ndarray:
    """The reference formula pair by pair (three gzip calls per pair): the benchmark baseline and test oracle."""
    check_level(level)
    scores = []
    for x in sources:
        total = 0.0
        for t in targets:
            xb, tb = x.encode("utf-8"), t.encode("utf-8")
            c_x, c_t = len(gzip.compress(xb, level)), len(gzip.compress(tb, level))
            total += ncd_from_sizes(c_x, c_t, len(gzip.compress(xb + tb, level)))
        scores.append(1.0 - total / len(targets))
    return np.array(scores, dtype=np.float64)


def top_k(scores: Sequence[float], k: int) -> list[int]:
    """Indices of the k highest scores, ties to the lower index."""
    order = np.lexsort((np.arange(len(scores)), -np.asarray(scores, dtype=np.float64)))
    return [int(i) for i in order[:k]]


def compression_ratio(texts: Sequence[str], parity: bool = False) -> float:
    """CR = |bytes(" ".join(texts))| / |gzip(same, level 9)|; higher means more redundant.

    `parity` reproduces the diversity package, which writes gzip.compress(data)
    into a GzipFile named compressed.gz, i.e. gzips twice with a file name in
    the header, so its CR is a little lower.
    """
    data = " ".join(texts).encode("utf-8")
    if not data:
        return 0.0
    if not parity:
        return len(data) / compressed_size(data, "gzip", 9)
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="compressed.gz", mode="wb", fileobj=buffer, mtime=0) as handle:
        handle.write(gzip.compress(data))
    return len(data) / len(buffer.getvalue())


def ngram_diversity(texts: Sequence[str], max_n: int = 5) -> float:
    """NGD = Σ_{n=1..5} |unique n-grams| / |n-grams| over " ".join(texts).split(" ").

    n-grams cross document boundaries (as in the reference); an n with no
    n-grams is skipped instead of dividing by zero.
    """
    tokens = " ".join(texts).split(" ")
    total = 0.0
    for n in range(1, max_n + 1):
        grams = [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
        if grams:
            total += len(set(grams)) / len(grams)
    return total


def default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 8))
