"""MinHash-LSH near-duplicate removal (spec §3).

Pipeline per text: norm (filters.normalize), char 5-grams (or word n-grams), xxh64
of each shingle, 128 permutations (a·x + b) mod (2^61 − 1), signature = min.
LSH: b bands of r rows; records sharing any band key are candidates; every
candidate pair is verified with the exact Jaccard of the shingle sets, and
union-find over the verified edges gives clusters, each keeping its first
record by (priority, input order).

Signatures and band keys are computed per batch (parallel, on the executor);
candidates and clusters are global over all shards.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

import numpy as np
import xxhash
from pydantic import BaseModel, ConfigDict, Field, model_validator

from filters import _kernels
from filters.exact import group_representatives
from filters.normalize import norm, tokens
from filters.text_views import prompt_view, response_view

MERSENNE_61 = (1 << 61) - 1


class MinHashConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool = True
    field: Literal["prompt", "pair"] = "prompt"
    shingle: Literal["char", "word"] = "char"
    ngram: int = Field(5, ge=1)
    num_perm: int = Field(128, ge=2)
    # None: chosen from `threshold` by minimizing the S-curve's FP + FN areas
    bands: int | None = Field(16, ge=1)
    rows: int | None = Field(8, ge=1)
    threshold: float = Field(0.7, gt=0, le=1)  # verification: keep an edge iff exact J >= threshold
    seed: int = 1
    hash: Literal["xxh64"] = "xxh64"
    keep: Literal["first"] = "first"
    # inside one LSH bucket each record is compared with at most this many
    # following bucket members, so a bucket of 10^5 near-copies stays linear
    bucket_window: int = Field(64, ge=1)
    # Records of these methods skip near-dup: symbolic SQL tasks on one table share the
    # whole linearized table, so their prompts look alike while the queries (and answers)
    # differ. Exact dedup still applies to them.
    skip_methods: list[str] = ["sql_exec"]
    # Methods whose instructions embed their source passage (meta["context"]), e.g. Bonito.
    # The shared passage would make every task about one document a near-duplicate of the
    # others, so these are compared only with records of the same source, on the prompt
    # with the passage cut out: a repeated question is caught, different questions are not.
    grounded_methods: list[str] = ["bonito"]

    @model_validator(mode="after")
    def _check_bands(self) -> "MinHashConfig":
        if (self.bands is None) != (self.rows is None):
            raise ValueError("minhash.bands and minhash.rows must both be set or both be null")
        if self.bands is not None and self.bands * self.rows > self.num_perm:
            raise ValueError(f"minhash.bands × rows = {self.bands * self.rows} exceeds num_perm = {self.num_perm}")
        return self

    def band_rows(self) -> tuple[int, int]:
        if self.bands is not None:
            return self.bands, self.rows
        return optimal_param(self.threshold, self.num_perm)


# -- the S-curve ---------------------------------------------------------------
def candidate_probability(s: float | np.ndarray, bands: int, rows: int):
    """P(candidate | J = s) = 1 − (1 − s^r)^b."""
    return 1 - (1 - np.asarray(s, dtype=np.float64) ** rows) ** bands


def threshold_midpoint(bands: int, rows: int) -> float:
    """The S-curve's approximate midpoint t ≈ (1/b)^(1/r)."""
    return (1 / bands) ** (1 / rows)


@lru_cache(maxsize=64)
def optimal_param(threshold: float, num_perm: int, fp_weight: float = 0.5, fn_weight: float = 0.5) -> tuple[int, int]:
    """(bands, rows) with b·r ≤ num_perm minimizing w_fp·∫₀ᵗP + w_fn·∫ₜ¹(1−P)."""
    from scipy.integrate import quad  # here, not at import: scipy.integrate is 0.3 s of every run's start-up

    best, best_error = (1, 1), float("inf")
    for bands in range(1, num_perm + 1):
        for rows in range(1, num_perm // bands + 1):
            fp = quad(lambda s: 1 - (1 - s**rows) ** bands, 0.0, threshold)[0]
            fn = quad(lambda s: (1 - s**rows) ** bands, threshold, 1.0)[0]
            error = fp_weight * fp + fn_weight * fn
            if error < best_error:
                best, best_error = (bands, rows), error
    return best


# -- shingles and signatures ----------------------------------------------------------
def shingle_normalize(text: str) -> str:
    """The text that is shingled: filters.normalize.norm (the one comparison form).

    Punctuation, operators and digits are kept (the spec's `[^\\w\\s]` → space made
    `Compute 1234 + 5678.` and `Compute 1234 - 5678.` one text) and so are combining
    marks (Python's `\\W` strips Devanagari vowel signs: `दिन` and `दान` became equal).
    """
    return norm(text)


def shingle_normalize_utf8(text: str) -> bytes:
    """shingle_normalize(text) as UTF-8 (surrogates passed through, never an error)."""
    return norm(text).encode("utf-8", errors="surrogatepass")


def shingles(text: str, kind: str = "char", n: int = 5) -> set[str]:
    """The shingle set of a raw text: char n-grams of norm(text), or n-grams of its word/symbol
    tokens (filters.normalize.tokens); shorter than n units gives the whole text as one shingle."""
    norm_text = shingle_normalize(text)
    if kind == "char":
        units, joiner = norm_text, ""
    else:
        units, joiner = tokens(norm_text), " "
    if len(units) < n:
        return {norm_text}
    return {joiner.join(units[i : i + n]) for i in range(len(units) - n + 1)}


def jaccard(x: set, y: set) -> float:
    union = len(x | y)
    return len(x & y) / union if union else 1.0


def minhash_text(record: dict, cfg: MinHashConfig) -> str:
    text = prompt_view(record) + "\n" + response_view(record) if cfg.field == "pair" else prompt_view(record)
    context = (record.get("meta") or {}).get("context") if record.get("method") in cfg.grounded_methods else None
    if isinstance(context, str) and context.strip():
        text = text.replace(context.strip(), "", 1)
    return text


def source_salt(records: list[dict], cfg: MinHashConfig) -> np.ndarray:
    """Per record, a 64-bit salt XORed into its band keys: grounded records only collide within their source."""
    salt = np.zeros(len(records), dtype=np.uint64)
    for i, record in enumerate(records):
        if record.get("method") in cfg.grounded_methods:
            salt[i] = xxhash.xxh64_intdigest(f"grounded|{record.get('source_id')}".encode())
    return salt


def shingle_hashes(texts: list[str], cfg: MinHashConfig, unique: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """CSR (hashes, offsets): xxh64 shingle hashes per raw text, as sorted sets if `unique`."""
    if cfg.shingle == "char":
        return _kernels.char_shingle_hashes([shingle_normalize_utf8(t) for t in texts], cfg.ngram, unique)
    return _kernels.csr_from_sets(
        [xxhash.xxh64_intdigest(s.encode("utf-8", errors="surrogatepass")) for s in shingles(t, "word", cfg.ngram)]
        for t in texts
    )


def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = rng.integers(1, MERSENNE_61, size=num_perm, dtype=np.uint64)
    b = rng.integers(0, MERSENNE_61, size=num_perm, dtype=np.uint64)
    return a, b


def signatures_from_hashes(hashes: np.ndarray, offsets: np.ndarray, num_perm: int = 128, seed: int = 1) -> np.ndarray:
    a, b = permutations(num_perm, seed)
    return _kernels.signatures(hashes, offsets, a, b)


def text_signatures(texts: list[str], cfg: MinHashConfig) -> np.ndarray:
    hashes, offsets = shingle_hashes(texts, cfg, unique=False)  # repeats do not change a minimum
    return signatures_from_hashes(hashes, offsets, cfg.num_perm, cfg.seed)


def _mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64 finalizer: a bijection that spreads the band's values over 64 bits."""
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def band_keys(sig: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """(n, bands) uint64: one 64-bit digest of each band's rows.

    A digest collision only adds a candidate pair, which verification then
    rejects, so hashing the band instead of keeping its bytes loses nothing.
    """
    keys = np.empty((sig.shape[0], bands), dtype=np.uint64)
    for band in range(bands):
        key = np.full(sig.shape[0], band + 1, dtype=np.uint64)
        for column in range(band * rows, (band + 1) * rows):
            key = _mix64(key ^ sig[:, column])
        keys[:, band] = key
    return keys


def record_band_keys(texts: list[str], cfg: MinHashConfig, salt: np.ndarray | None = None) -> np.ndarray:
    bands, rows = cfg.band_rows()
    keys = band_keys(text_signatures(texts, cfg), bands, rows)
    return keys if salt is None else keys ^ salt[:, None]


# -- global candidates, verification, clusters -----------------------------------------
def candidate_pairs(keys: np.ndarray, window: int = 64) -> np.ndarray:
    """(m, 2) int64 unique pairs (i < j) of rows sharing a band key."""
    n = keys.shape[0]
    codes: list[np.ndarray] = []
    for band in range(keys.shape[1]):
        order = np.argsort(keys[:, band], kind="stable")
        ordered = keys[order, band]
        for step in range(1, min(window, n - 1) + 1):
            same = ordered[step:] == ordered[:-step]
            if not same.any():
                break
            i, j = order[:-step][same], order[step:][same]
            codes.append(np.minimum(i, j).astype(np.int64) * n + np.maximum(i, j))
        if codes and len(codes) > 32:  # keep the pending list short on heavy-duplicate inputs
            codes = [np.unique(np.concatenate(codes))]
    if not codes:
        return np.zeros((0, 2), dtype=np.int64)
    unique = np.unique(np.concatenate(codes))
    return np.stack([unique // n, unique % n], axis=1)


def cluster_representatives(n: int, edges: np.ndarray, priority: np.ndarray | None = None) -> np.ndarray:
    """rep[i] for the connected components of `edges` (union-find semantics)."""
    if priority is None:
        priority = np.zeros(n, dtype=np.int64)
    if len(edges) == 0:
        return np.arange(n, dtype=np.int64)
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    graph = coo_matrix((np.ones(len(edges), dtype=np.int8), (edges[:, 0], edges[:, 1])), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return group_representatives([labels.astype(np.int64)], priority)


def near_duplicates(
    hashes: np.ndarray, offsets: np.ndarray, candidates: np.ndarray, threshold: float, priority: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Verify candidates on exact Jaccard and cluster.

    Returns (rep, jaccard_to_rep): rep[i] == i for kept rows; for a removed row,
    jaccard_to_rep is its exact Jaccard with the record it is a duplicate of.
    """
    n = len(offsets) - 1
    scores = _kernels.jaccard_rows(hashes, offsets, candidates[:, 0], candidates[:, 1]) if len(candidates) else np.zeros(0)
    edges = candidates[scores >= threshold]
    rep = cluster_representatives(n, edges, priority)
    to_rep = np.ones(n, dtype=np.float64)
    removed = np.flatnonzero(rep != np.arange(n))
    if len(removed):
        to_rep[removed] = _kernels.jaccard_rows(hashes, offsets, removed, rep[removed])
    return rep, to_rep


def cluster_candidates(
    pairs: np.ndarray, sets: tuple[np.ndarray, np.ndarray], threshold: float, priority: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Verify and cluster candidate pairs (row numbers, i < j).

    `sets` are the shingle sets (CSR) of `involved = np.unique(pairs)` in that
    order, with `priority` aligned to them. Returns (involved, rep, to_rep)
    where rep / to_rep index into `involved`.
    """
    involved = np.unique(pairs)
    rep, to_rep = near_duplicates(sets[0], sets[1], np.searchsorted(involved, pairs), threshold, priority)
    return involved, rep, to_rep


def dedup_texts(texts: list[str], cfg: MinHashConfig, priority: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """In-memory near-dup removal of a list of texts: (rep, jaccard_to_rep) per text."""
    rep = np.arange(len(texts), dtype=np.int64)
    to_rep = np.ones(len(texts), dtype=np.float64)
    pairs = candidate_pairs(record_band_keys(texts, cfg), cfg.bucket_window)
    if len(pairs):
        involved = np.unique(pairs)
        sets = shingle_hashes([texts[i] for i in involved], cfg)
        local_priority = None if priority is None else np.asarray(priority)[involved]
        _, local_rep, local_to_rep = cluster_candidates(pairs, sets, cfg.threshold, local_priority)
        rep[involved] = involved[local_rep]
        to_rep[involved] = local_to_rep
    return rep, to_rep
