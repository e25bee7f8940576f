"""Spec §5-6: NCD pitfalls P1-P5, ZIP-FIT fast path == reference, CR and NGD fixtures."""

import gzip
import random
import zlib

import numpy as np
import pytest

from selection.compression import (
    compressed_size,
    compression_ratio,
    concat_sizes_cached,
    ncd,
    ncd_from_sizes,
    ngram_diversity,
    top_k,
    zipfit_scores,
    zipfit_scores_naive,
)
from selection.config import ZipFitConfig


def text_a(n):
    return " ".join(f"tok{(i * i * 7 + 3 * i) % 251}" for i in range(n))


def text_b(n):
    return " ".join(f"w{(i * i * 13 + 5 * i + 1) % 241}x" for i in range(n))


def random_words(seed, nbytes):
    """Non-periodic text (text_a repeats every 251 tokens, which inflates NCD(x, x))."""
    rnd = random.Random(seed)
    vocab = ["".join(rnd.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rnd.randint(2, 9))) for _ in range(3000)]
    out, size = [], 0
    while size < nbytes:
        out.append(rnd.choice(vocab))
        size += len(out[-1]) + 1
    return " ".join(out)


def test_p1_level0_ncd_is_a_length_ratio():
    a, b = text_a(150).encode(), text_b(150).encode()
    assert len(a) == 975
    assert compressed_size(a, "gzip", 0) == len(a) + 23
    for x, y in ((a, a), (a, b)):
        value = ncd_from_sizes(*(compressed_size(s, "gzip", 0) for s in (x, y, x + y)))
        assert value == pytest.approx(975 / 998)  # whatever the content
    c = text_a(200).encode()
    value = ncd_from_sizes(*(compressed_size(s, "gzip", 0) for s in (c, c, c + c)))
    assert value == pytest.approx(len(c) / (len(c) + 23))


def test_level0_refused_with_a_clear_error():
    with pytest.raises(ValueError, match="level 0 stores"):
        ncd("abc", "abd", level=0)
    with pytest.raises(ValueError, match="level 0 stores"):
        zipfit_scores(["abc"], ["abd"], level=0)
    with pytest.raises(ValueError, match="zipfit.level=0"):
        ZipFitConfig(targets=["x"], level=0)


def test_p2_level_sensitivity_and_self_distance_bands():
    a, b = text_a(150), text_b(150)
    assert 0.05 < ncd(a, a, 1) < 0.1 and ncd(a, a, 9) < ncd(a, a, 1)
    assert ncd(a, b, 1) > 0.9
    for nbytes in (1000, 4000, 10000):
        x, y = random_words(1, nbytes), random_words(2, nbytes)
        for level in range(1, 10):
            assert ncd(x, x, level) < 0.1
            assert ncd(x, y, level) > 0.85


def test_p3_long_texts_need_a_long_window():
    x = text_a(8000)  # ~52 KB
    assert len(x.encode()) > 32 * 1024
    assert ncd(x, x, 9, "gzip") > 0.25
    assert ncd(x, x, 6, "lzma") < 0.1
    with pytest.warns(UserWarning, match="32 KB"):
        long_scores = zipfit_scores([x], [x], long_text="lzma")
    assert long_scores[0] > 0.9


def test_p4_order_matters_source_first():
    a, b = text_a(150).encode(), text_b(150).encode()
    assert compressed_size(a + b, "gzip", 1) != compressed_size(b + a, "gzip", 1)


def test_p5_gzip_framing_matches_the_gzip_module():
    for level in range(0, 10):
        data = text_a(100).encode()
        assert compressed_size(data, "gzip", level) == len(gzip.compress(data, level))
        assert compressed_size(data, "gzip", level) == len(zlib.compress(data, level)) + 12
    assert compressed_size(b"", "gzip", 9) == 20 and compressed_size(b"", "gzip", 0) == 23


def test_cached_prefix_lengths_equal_one_shot():
    rng = np.random.default_rng(0)
    sources = [text_a(int(n)).encode() for n in rng.integers(20, 400, 5)]
    targets = [text_b(int(n)).encode() + text_a(int(n)).encode() for n in rng.integers(10, 200, 8)]
    for level in (1, 6, 9):
        for s in sources:
            c_s, joint = concat_sizes_cached(s, targets, level)
            assert c_s == len(gzip.compress(s, level))
            assert joint == [len(gzip.compress(s + t, level)) for t in targets]


def test_zipfit_fast_path_is_identical_to_reference_and_pool_agrees(monkeypatch):
    # lengths on both sides of COPY_MIN_BYTES, so the copy path and the one-shot path are both checked
    sources = [text_a(n) for n in (30, 60, 300)] + [text_b(n) for n in (30, 60, 300)] + ["naïve ünïcode ✓ " * 5]
    targets = [text_a(80), text_a(120) + " extra"]
    reference = zipfit_scores_naive(sources, targets)
    assert np.array_equal(zipfit_scores(sources, targets), reference)
    import selection.compression as compression

    monkeypatch.setattr(compression, "POOL_MIN_PAIRS", 0)  # force the worker-process path
    assert np.array_equal(zipfit_scores(sources, targets, workers=2), reference)
    best = top_k(reference, 3)
    assert set(best) <= {0, 1, 2}  # text_a sources align with text_a targets


def test_top_k_ties_go_to_lower_index():
    assert top_k([0.5, 0.7, 0.7, 0.1, 0.7], 3) == [1, 2, 4]


def test_compression_ratio_and_ngram_diversity_fixtures():
    assert compression_ratio(["the cat sat on the mat"] * 50) == pytest.approx(1149 / 50)
    assert compression_ratio(["the cat sat on the mat"] * 50, parity=True) < 1149 / 50
    assert ngram_diversity(["the cat sat", "the cat ran"]) == pytest.approx(4 / 6 + 4 / 5 + 3, abs=1e-12)
    assert ngram_diversity(["one two"]) == pytest.approx(2.0)  # n = 3..5 have no n-grams: skipped


def test_entropy_law_cached_ratio_equals_recompression_and_avoids_duplicates():
    from selection.entropy_law import GrowingListCR, list_cr, zip_entropy_select

    items = [random_words(s, 300) for s in range(6)]
    growing = GrowingListCR(9)
    for k, item in enumerate(items):
        assert growing.ratio_with(repr(item)) == list_cr(items[:k] + [item])
        growing.add(repr(item))
    texts = [random_words(1, 400)] * 4 + [random_words(s, 400) for s in range(2, 6)]
    chosen, history = zip_entropy_select(texts, 4, k1=8, k2=8, k3=2, reconsider_unpicked=True)
    assert len(chosen) == 4 and sum(1 for i in chosen if i < 4) <= 1  # one copy of the duplicate at most
    assert len(history) == 2 and history[-1] == list_cr([texts[i] for i in chosen])
    strict, _ = zip_entropy_select(texts, 8, k1=8, k2=4, k3=2)
    assert len(strict) == 4  # unpicked stage-2 items are dropped (reference quirk)
    again, _ = zip_entropy_select(texts, 8, k1=8, k2=4, k3=2, reconsider_unpicked=True)
    assert len(again) == 8


def test_zstd_long_window_keeps_self_distance_small():
    pytest.importorskip("zstandard")
    x = random_words(3, 60_000)
    assert ncd(x, x, 3, "zstd") < 0.1
    assert ncd(x, random_words(4, 60_000), 3, "zstd") > 0.85
