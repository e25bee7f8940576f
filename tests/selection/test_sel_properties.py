"""Spec G6 properties and §3 kernels: lazy == naive, (1 − 1/e) bound, kNN-sparse == dense at k = n."""

import itertools
import math

import numpy as np
import pytest

from selection.greedy import lazy_greedy, run_greedy
from selection.kernels import cosine_kernel, inverse_lists, knn_exact, knn_from_kernel, knn_ivf, normalize_rows
from selection.submodular import FacilityLocation, GraphCut, LogDet, SparseFacilityLocation


def random_psd(rng, n=8, d=4, ties=False):
    a = rng.random((n, d))
    if ties:  # duplicated items create exact gain ties
        a[rng.integers(n)] = a[rng.integers(n)]
        a = np.round(a, 1)
    return a @ a.T


def brute_force_fl(kernel, k):
    return max(kernel[:, list(c)].max(axis=1).sum() for c in itertools.combinations(range(len(kernel)), k))


def test_lazy_equals_naive_on_random_kernels_with_ties():
    rng = np.random.default_rng(0)
    for trial in range(150):
        kernel = random_psd(rng, n=int(rng.integers(5, 14)), ties=trial % 2 == 0)
        k = int(rng.integers(1, len(kernel) + 1))
        for make in (lambda: FacilityLocation(kernel), lambda: GraphCut(kernel=kernel, lam=0.3), lambda: LogDet(kernel=kernel)):
            naive, lazy = run_greedy(make(), k, "naive"), run_greedy(make(), k, "lazy")
            assert lazy.indices == naive.indices
            np.testing.assert_allclose(lazy.gains, naive.gains, rtol=1e-12, atol=1e-12)


def test_greedy_bound_gain_sum_and_diminishing_returns():
    rng = np.random.default_rng(1)
    bound = 1 - 1 / math.e
    for _ in range(60):
        kernel = random_psd(rng)
        for k in range(1, 5):
            result = run_greedy(FacilityLocation(kernel), k, "lazy")
            opt = brute_force_fl(kernel, k)
            assert result.objective >= bound * opt - 1e-12
            assert sum(result.gains) == pytest.approx(result.objective, rel=1e-12)
        small, large = FacilityLocation(kernel), FacilityLocation(kernel)
        small.add(0)
        for j in (0, 1, 2):
            large.add(j)
        cand = np.arange(3, 8)
        assert np.all(small.gains(cand) >= large.gains(cand) - 1e-12)


def test_stochastic_mean_meets_its_expected_bound():
    rng = np.random.default_rng(2)
    eps = 0.1
    for _ in range(5):
        kernel = random_psd(rng)
        k = 3
        opt = brute_force_fl(kernel, k)
        values = [run_greedy(FacilityLocation(kernel), k, "stochastic", epsilon=eps, seed=s).objective for s in range(50)]
        assert np.mean(values) >= (1 - 1 / math.e - eps) * opt


def test_logdet_objective_equals_slogdet():
    rng = np.random.default_rng(4)
    emb = normalize_rows(rng.standard_normal((30, 6))).astype(np.float64)
    result = run_greedy(LogDet(embeddings=emb, lam=1.0), 6, "lazy")
    sel = result.indices
    expected = np.linalg.slogdet(emb[sel] @ emb[sel].T + np.eye(6))[1]
    assert result.objective == pytest.approx(expected, rel=1e-9)
    dense = run_greedy(LogDet(kernel=emb @ emb.T, lam=1.0), 6, "naive")
    assert dense.indices == sel


def test_graph_cut_from_embeddings_matches_raw_kernel():
    rng = np.random.default_rng(5)
    emb = normalize_rows(rng.standard_normal((40, 8))).astype(np.float64)
    from_kernel = run_greedy(GraphCut(kernel=emb @ emb.T, lam=0.4), 10, "naive")
    from_emb = run_greedy(GraphCut(embeddings=emb, lam=0.4), 10, "naive")
    assert from_emb.indices == from_kernel.indices
    np.testing.assert_allclose(from_emb.gains, from_kernel.gains, atol=1e-10)


def test_graph_cut_with_negative_similarities_is_not_lazy():
    """Raw cosine has negative entries, so GC gains can grow: lazy would be wrong, run_greedy uses naive."""
    rng = np.random.default_rng(5)
    emb = normalize_rows(rng.standard_normal((40, 8))).astype(np.float64)
    f = GraphCut(embeddings=emb, lam=0.4)
    assert not f.submodular
    with pytest.raises(ValueError, match="submodular"):
        lazy_greedy(f, 3)
    auto = run_greedy(GraphCut(embeddings=emb, lam=0.4), 10, "lazy")
    assert auto.indices == run_greedy(GraphCut(embeddings=emb, lam=0.4), 10, "naive").indices
    assert GraphCut(kernel=np.abs(emb @ emb.T), lam=0.4).submodular


def test_sparse_fl_equals_dense_when_k_equals_n():
    rng = np.random.default_rng(6)
    for ties in (False, True):
        emb = normalize_rows(rng.standard_normal((50, 5)))
        if ties:
            emb[7] = emb[3]
        kernel = cosine_kernel(emb, mode="clip")
        dense = run_greedy(FacilityLocation(kernel), 20, "lazy")
        sparse = run_greedy(SparseFacilityLocation(inverse_lists(knn_from_kernel(kernel, 50))), 20, "lazy")
        naive = run_greedy(SparseFacilityLocation(inverse_lists(knn_from_kernel(kernel, 50))), 20, "naive")
        assert sparse.indices == dense.indices == naive.indices
        np.testing.assert_allclose(sparse.gains, dense.gains, rtol=1e-6)
        assert sparse.objective == pytest.approx(dense.objective, rel=1e-6)


def test_knn_always_includes_self_and_exact_matches_kernel():
    rng = np.random.default_rng(7)
    emb = normalize_rows(rng.standard_normal((200, 8)))
    emb[5] = emb[9]  # duplicate: self must still be in its own list
    graph = knn_exact(emb, 10, block=64)
    assert all(i in graph.indices[i] for i in range(200))
    kernel = cosine_kernel(emb, mode="raw")
    ref = np.sort(kernel, axis=1)[:, -10:]
    np.testing.assert_allclose(np.sort(graph.sims, axis=1)[:, 1:], ref[:, 1:], atol=1e-5)


def test_ivf_is_exact_with_all_cells_probed_and_good_with_few():
    rng = np.random.default_rng(8)
    centers = normalize_rows(rng.standard_normal((20, 16)))
    emb = normalize_rows(centers[rng.integers(20, size=1500)] + 0.2 * rng.standard_normal((1500, 16)))
    exact = knn_exact(emb, 8)
    full = knn_ivf(emb, 8, nlist=10, nprobe=10, seed=1)
    np.testing.assert_allclose(np.sort(full.sims, axis=1), np.sort(exact.sims, axis=1), atol=1e-6)
    few = knn_ivf(emb, 8, nlist=40, nprobe=8, seed=1)
    recall = np.mean([len(set(a) & set(b)) / 8 for a, b in zip(few.indices, exact.indices)])
    assert recall > 0.97
    again = knn_ivf(emb, 8, nlist=40, nprobe=8, seed=1)
    assert np.array_equal(np.sort(again.indices, axis=1), np.sort(few.indices, axis=1))


def test_sparse_fl_objective_close_to_dense():
    rng = np.random.default_rng(9)
    centers = normalize_rows(rng.standard_normal((30, 16)))
    emb = normalize_rows(centers[rng.integers(30, size=2000)] + 0.4 * rng.standard_normal((2000, 16)))
    kernel = cosine_kernel(emb)
    dense = run_greedy(FacilityLocation(kernel), 100, "lazy")
    sparse = run_greedy(SparseFacilityLocation(inverse_lists(knn_exact(emb, 64))), 100, "lazy")
    reached = FacilityLocation(kernel)
    for j in sparse.indices:
        reached.add(j)
    assert reached.objective() >= 0.99 * dense.objective


def test_lazy_pool_rebuilds_and_full_scan_fallback_keep_naive_order():
    """A pool of 2-3 bounds forces rebuilds every step; duplicated rows force the all-tied fallback."""
    rng = np.random.default_rng(11)
    for trial in range(40):
        kernel = random_psd(rng, n=int(rng.integers(6, 16)), ties=True)
        if trial % 4 == 0:
            kernel = np.ones_like(kernel)  # every gain tied: more ties than the pool holds
        k = int(rng.integers(1, len(kernel) + 1))
        naive = run_greedy(FacilityLocation(kernel), k, "naive")
        for pool_size in (1, 2, 3):
            lazy = lazy_greedy(FacilityLocation(kernel), k, pool_size=pool_size)
            assert lazy.indices == naive.indices


def test_sparse_gains_in_chunks_equal_one_pass(monkeypatch):
    rng = np.random.default_rng(12)
    emb = normalize_rows(rng.standard_normal((300, 6)))
    f = SparseFacilityLocation(inverse_lists(knn_exact(emb, 20)))
    f.add(5)
    whole = f.gains(np.arange(300))
    monkeypatch.setattr(SparseFacilityLocation, "CHUNK_ENTRIES", 97)
    np.testing.assert_array_equal(f.gains(np.arange(300)), whole)


def test_lazy_equals_naive_hypothesis():
    hypothesis = pytest.importorskip("hypothesis")
    st = pytest.importorskip("hypothesis.strategies")
    extra = pytest.importorskip("hypothesis.extra.numpy")

    @hypothesis.settings(max_examples=60, deadline=None, derandomize=True)
    @hypothesis.given(
        points=extra.arrays(np.float64, st.tuples(st.integers(2, 10), st.integers(1, 4)), elements=st.sampled_from([0.0, 0.5, 1.0, 2.0])),
        k=st.integers(1, 10),
    )
    def check(points, k):
        kernel = points @ points.T  # coarse values: many exact ties
        naive = run_greedy(FacilityLocation(kernel), k, "naive")
        lazy = run_greedy(FacilityLocation(kernel), k, "lazy")
        assert lazy.indices == naive.indices
        assert sum(naive.gains) == pytest.approx(naive.objective, abs=1e-9)

    check()
