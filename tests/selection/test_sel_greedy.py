"""Spec §2 fixtures G1-G5 and the optimizers' contracts (tie rule, k = n, stops)."""

import math

import numpy as np
import pytest

from selection.greedy import farthest_point, lazy_greedy, naive_greedy, run_greedy, stochastic_sample_size
from selection.submodular import DisparitySum, FacilityLocation, GraphCut, LogDet

S = np.array([[1, 0.9, 0.1, 0], [0.9, 1, 0.2, 0.1], [0.1, 0.2, 1, 0.8], [0, 0.1, 0.8, 1]])
S_PRIME = S.copy()
S_PRIME[2, 3] = S_PRIME[3, 2] = 0.7
OPTIMIZERS = ["naive", "lazy"]


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_g1_facility_location_exact_tie_goes_to_lowest_index(optimizer):
    np.testing.assert_allclose(FacilityLocation(S).gains(np.arange(4)), [2.0, 2.2, 2.1, 1.9])
    result = run_greedy(FacilityLocation(S), 3, optimizer)
    assert result.indices == [1, 2, 3]  # a larger-index rule would give [1, 3, ...]
    np.testing.assert_allclose(result.gains, [2.2, 1.5, 0.2], atol=1e-12)
    assert result.objective == pytest.approx(3.9)


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_g2_exponential_kernel(optimizer):
    x = np.array([0, 0.5, 1.2, 5, 5.3])
    kernel = np.round(np.exp(-np.abs(x[:, None] - x[None, :])), 4)
    result = run_greedy(FacilityLocation(kernel), 3, optimizer)
    assert result.indices == [1, 3, 2]
    np.testing.assert_allclose(result.gains, [2.1224, 1.7215, 0.5034], atol=1e-12)
    assert result.objective == pytest.approx(4.3473, abs=1e-12)
    # brute-force OPT for k=3 is also 4.3473 (four sets attain it: compare values, not sets)
    best = max(kernel[:, list(c)].max(axis=1).sum() for c in __import__("itertools").combinations(range(5), 3))
    assert best == pytest.approx(4.3473, abs=1e-12)
    assert run_greedy(FacilityLocation(kernel), 2, optimizer).objective == pytest.approx(3.8439, abs=1e-12)


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_g3_graph_cut_lambda_04(optimizer):
    np.testing.assert_allclose(S_PRIME.sum(axis=0), [2.0, 2.2, 2.0, 1.8])
    result = run_greedy(GraphCut(kernel=S_PRIME, lam=0.4), 3, optimizer)
    assert result.indices == [1, 2, 0]
    np.testing.assert_allclose(result.gains, [1.8, 1.44, 0.8], atol=1e-12)


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_g4_logdet_four_way_tie(optimizer):
    result = run_greedy(LogDet(kernel=S_PRIME, lam=1.0), 3, optimizer)
    assert result.indices == [0, 3, 2]
    np.testing.assert_allclose(result.gains, [math.log(2), math.log(2), math.log(1.75)], atol=1e-9)
    sub = S_PRIME[np.ix_([0, 3, 2], [0, 3, 2])] + np.eye(3)
    assert result.objective == pytest.approx(np.linalg.slogdet(sub)[1], abs=1e-12)


def test_g5_k_center_from_start():
    x = np.array([0, 1, 2, 10, 11, 20], dtype=float)
    result, radius = farthest_point(np.abs(x[:, None] - x[None, :]), k=3, start=0)
    assert result.indices == [0, 5, 3]
    assert radius == 2.0


def test_disparity_min_starts_at_farthest_pair_lowest_indices():
    x = np.array([0.0, 5.0, 10.0, 0.0, 10.0])  # pairs (0,2), (0,4), (2,3), (3,4) all at 10
    result, _ = farthest_point(np.abs(x[:, None] - x[None, :]), k=3)
    assert result.indices[:2] == [0, 2]
    assert result.indices[2] == 1 and result.objective == 5.0


def test_k_equals_n_works_and_is_a_permutation():
    rng = np.random.default_rng(3)
    a = rng.random((12, 4))
    kernel = a @ a.T
    for optimizer in ("naive", "lazy", "stochastic"):
        result = run_greedy(FacilityLocation(kernel), 12, optimizer)
        assert sorted(result.indices) == list(range(12))


def test_stop_if_zero_gain_stops_when_everything_is_covered():
    result = naive_greedy(FacilityLocation(np.eye(3)), 3, stop_if_zero_gain=True)
    assert result.indices == [0, 1, 2]
    dup = np.ones((3, 3))
    assert lazy_greedy(FacilityLocation(dup), 3, stop_if_zero_gain=True).indices == [0]


def test_lazy_refuses_supermodular_disparity_sum():
    with pytest.raises(ValueError, match="submodular"):
        lazy_greedy(DisparitySum(kernel=S), 2)
    assert naive_greedy(DisparitySum(kernel=S), 2).indices == [0, 3]  # first step: all-zero tie → 0


def test_stochastic_sample_size_uses_ceiling():
    assert stochastic_sample_size(1000, 10, 0.1) == math.ceil(100 * math.log(10))
    with pytest.raises(ValueError):
        stochastic_sample_size(10, 2, 0.0)


def test_stochastic_is_deterministic_for_a_seed():
    rng = np.random.default_rng(0)
    a = rng.random((60, 5))
    kernel = a @ a.T
    first = run_greedy(FacilityLocation(kernel), 6, "stochastic", seed=7)
    again = run_greedy(FacilityLocation(kernel), 6, "stochastic", seed=7)
    assert first.indices == again.indices


def test_farthest_pair_search_by_blocks_matches_brute_force():
    from selection.greedy import _farthest_pair

    rng = np.random.default_rng(4)
    emb = rng.standard_normal((37, 3))
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    dist = 1 - emb @ emb.T
    i, j = np.unravel_index(np.argmax(np.triu(dist, 1)), dist.shape)
    for block in (1, 5, 64):
        pair, best = _farthest_pair(lambda rows: dist[rows], 37, 1e-9, block=block)
        assert pair == (i, j) and best == pytest.approx(dist[i, j])
    from_emb, _ = farthest_point(embeddings=emb, k=5)
    from_dist, _ = farthest_point(dist, k=5)
    assert from_emb.indices == from_dist.indices
