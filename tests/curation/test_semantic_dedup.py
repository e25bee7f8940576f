import hashlib

import numpy as np
import pytest

from filters.semantic import SemanticConfig, _remove_all, _remove_kept, semantic_dedup, spherical_kmeans
from taskmill.embeddings import EmbeddingCache, load_embedder

from curation_helpers import rec, run_curate

A = [1.0, 0.0, 0.0]
B = [0.995, float(np.sqrt(1 - 0.995**2)), 0.0]
D = [0.0, 0.6, 0.8]
ABD = np.array([A, B, D], dtype=np.float32)


def test_centroid_cosines_of_the_spec_vector():
    _, centroids = spherical_kmeans(ABD, 1)
    assert (ABD @ centroids[0]).tolist() == pytest.approx([0.8825, 0.9091, 0.4689], abs=1e-4)


@pytest.mark.parametrize("compare_to", ["all", "kept"])
def test_hard_and_easy_orders(compare_to):
    dup_of, cosine, _ = semantic_dedup(ABD, SemanticConfig(k=1, order="hard", compare_to=compare_to))
    assert dup_of.tolist() == [-1, 0, -1]  # walk d, a, b: b removed as a duplicate of a
    assert cosine[1] == pytest.approx(0.995, abs=1e-6)
    dup_of, _, _ = semantic_dedup(ABD, SemanticConfig(k=1, order="easy", compare_to=compare_to))
    assert dup_of.tolist() == [1, -1, -1]  # walk b, a, d: a removed
    dup_of, _, _ = semantic_dedup(ABD, SemanticConfig(k=1, eps=0.004))
    assert dup_of.tolist() == [-1, -1, -1]


def test_compare_to_all_collapses_chains_but_kept_does_not():
    # cos(x,y) and cos(y,z) pass the 0.99 cutoff, cos(x,z) does not; walk x, y, z
    angle = np.deg2rad(7.0)
    vectors = np.array([[1, 0, 0], [np.cos(angle), np.sin(angle), 0], [np.cos(2 * angle), np.sin(2 * angle), 0]], np.float32)
    walk = np.arange(3)
    sims = vectors @ vectors.T
    assert sims[0, 1] >= 0.99 and sims[1, 2] >= 0.99 and sims[0, 2] < 0.99
    dup_of, cosine = np.full(3, -1), np.zeros(3, np.float32)
    _remove_all(vectors, walk, 0.99, 2, dup_of, cosine)
    assert dup_of.tolist() == [-1, 0, 1]  # z goes too: it matches y, itself removed
    dup_of = np.full(3, -1)
    _remove_kept(vectors, walk, 0.99, dup_of, cosine)
    assert dup_of.tolist() == [-1, 0, -1]  # z only meets the kept x


def test_kmeans_is_seeded_and_separates_blobs():
    rng = np.random.default_rng(0)
    blobs = np.concatenate([rng.normal(c, 0.05, size=(50, 3)) for c in ([5, 0, 0], [0, 5, 0], [0, 0, 5])]).astype(np.float32)
    blobs /= np.linalg.norm(blobs, axis=1, keepdims=True)
    labels, _ = spherical_kmeans(blobs, 3, seed=1)
    again, _ = spherical_kmeans(blobs, 3, seed=1)
    assert (labels == again).all()
    assert all(len(set(labels[k * 50 : (k + 1) * 50])) == 1 for k in range(3))
    assert len(set(labels)) == 3


class HashEmbedder:
    """Deterministic fake model: counts what it is asked to embed."""

    def __init__(self):
        self.seen: list[str] = []

    def encode(self, texts, **kwargs):
        self.seen.extend(texts)
        return np.array([[b + 1.0 for b in hashlib.sha256(t.encode()).digest()[:8]] for t in texts], dtype=np.float32)


def test_embedding_cache_keeps_finished_chunks_when_encoding_fails(tmp_path):
    # a run killed mid-encode resumes from the chunks already written; progress counts uncached items
    class FailsOnThirdCall(HashEmbedder):
        def encode(self, texts, **kwargs):
            if len(self.seen) >= 4:
                raise RuntimeError("killed")
            return super().encode(texts, **kwargs)

    texts = [f"text {i}" for i in range(6)]
    steps = []
    cache = EmbeddingCache(tmp_path, model="fake", embedder=FailsOnThirdCall())
    with pytest.raises(RuntimeError, match="killed"):
        cache.embed(texts, [f"id{i}" for i in range(6)], chunk=2, on_chunk=lambda done, total: steps.append((done, total)))
    assert steps == [(0, 6), (2, 6), (4, 6)]
    again, steps = HashEmbedder(), []
    resumed = EmbeddingCache(tmp_path, model="fake", embedder=again)
    vectors = resumed.embed(texts, [f"id{i}" for i in range(6)], chunk=2, on_chunk=lambda done, total: steps.append((done, total)))
    assert again.seen == ["text 4", "text 5"] and vectors.shape == (6, 8)
    assert steps == [(4, 6), (6, 6)]  # the saved chunks count as done at once


def test_embedding_cache_computes_each_id_once(tmp_path):
    model = HashEmbedder()
    cache = EmbeddingCache(tmp_path, model="fake", embedder=model)
    first = cache.embed(["alpha", "beta", "alpha"], ["a", "b", "a"])
    assert model.seen == ["alpha", "beta"]
    assert first.dtype == np.float32 and np.allclose(np.linalg.norm(first, axis=1), 1)
    assert (first[0] == first[2]).all()
    cache.embed([{"instruction": "gamma", "input": "", "output": "x"}, "beta"], ["c", "b"])
    assert model.seen == ["alpha", "beta", "gamma"]
    reopened = EmbeddingCache(tmp_path, model="fake", embedder=HashEmbedder())
    assert len(reopened) == 3 and reopened.missing(["a", "z"]) == ["z"]
    assert np.array_equal(reopened.get(["c", "a"]), cache.get(["c", "a"]))
    with pytest.raises(KeyError, match="not embedded"):
        reopened.get(["z"])
    with pytest.raises(ValueError, match="holds 'fake' vectors"):
        EmbeddingCache(tmp_path, model="other")


@pytest.fixture(scope="module")
def minilm():
    return load_embedder()


PARAPHRASES = [
    "How do I reset my password?",
    "How can I reset my password?",
    "What are the steps to reset my password?",
    "Give me a recipe for banana bread.",
    "Share a banana bread recipe.",
    "Explain the causes of the French Revolution.",
    "What is the capital of Australia?",
]


def test_packaged_minilm_paraphrases_vs_unrelated(minilm, tmp_path):
    vectors = minilm.encode(PARAPHRASES, normalize_embeddings=True)
    assert vectors.shape == (7, 384)
    sims = vectors @ vectors.T
    assert sims[0, 1] > 0.9 and sims[3, 4] > 0.85
    assert sims[0, 3] < 0.4 and sims[5, 6] < 0.4
    records = [rec(p, "answer") for p in PARAPHRASES]
    cache = EmbeddingCache(tmp_path / "emb", embedder=minilm)
    config = {"semantic": {"enabled": True, "eps": 0.1}, "minhash": {"enabled": False}}
    report, kept, rejects = run_curate([records[:4], records[4:]], config, embeddings=cache)
    groups = {r["id"]: g for r, g in zip(records, [0, 0, 0, 1, 1, 2, 3])}
    assert sorted(groups[r["id"]] for r in kept) == [0, 1, 2, 3]
    for reject in rejects:
        detail = reject["meta"]["curation"]["detail"]
        assert reject["reject_reason"] == "semantic_dup" and groups[detail["dup_of"]] == groups[reject["id"]]
        assert detail["cosine"] >= 0.9
    assert len(cache) == 7 and cache.computed == 7
    again = EmbeddingCache(tmp_path / "emb", embedder=minilm)
    run_curate([records], config, embeddings=again)
    assert again.computed == 0  # every record was embedded once for this run's cache
