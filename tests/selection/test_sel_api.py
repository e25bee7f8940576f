"""select(): routing, prefix property, kNN path, ZIP-FIT path, config validation."""

import numpy as np
import pytest
from pydantic import ValidationError

from selection import SelectionConfig, select
from selection.config import KernelConfig, MixtureConfig, ZipFitConfig, resolve_budget
from selection.greedy import run_greedy
from selection.kernels import cosine_kernel
from selection.submodular import FacilityLocation


def data(n=120, d=10, seed=0, tasks=3):
    rng = np.random.default_rng(seed)
    emb = rng.standard_normal((n, d)).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    records = [
        {"id": f"r{i}", "method": "gen", "instruction": f"item {i}", "input": "", "output": "x" * (i % 7 + 1), "meta": {"task": f"t{i % tasks}"}}
        for i in range(n)
    ]
    return records, emb


@pytest.mark.parametrize("method", ["facility_location", "graph_cut", "logdet", "disparity_sum", "disparity_min"])
def test_methods_return_budget_distinct_indices_and_are_prefix_stable(method):
    records, emb = data()
    small = select(records, emb, SelectionConfig(method=method, budget=5))
    large = select(records, emb, SelectionConfig(method=method, budget=12))
    assert len(small.indices) == 5 and len(set(large.indices)) == 12
    assert large.indices[:5] == small.indices
    assert len(small.gains) == 5
    assert sum(r["chosen"] for r in small.mixture_table) == 5


def test_facility_location_matches_engine_and_objective():
    records, emb = data()
    result = select(records, emb, SelectionConfig(method="facility_location", budget=0.1))
    direct = run_greedy(FacilityLocation(cosine_kernel(emb)), resolve_budget(0.1, 120), "lazy")
    assert result.indices == direct.indices and result.objective == pytest.approx(direct.objective)


def test_knn_kernel_path_equals_dense_at_k_equals_n():
    records, emb = data(n=80)
    dense = select(records, emb, SelectionConfig(method="facility_location", budget=10))
    sparse = select(records, emb, SelectionConfig(method="facility_location", budget=10, kernel=KernelConfig(kind="knn", k=80)))
    assert sparse.indices == dense.indices
    np.testing.assert_allclose(sparse.gains, dense.gains, rtol=1e-5)


def test_stochastic_and_per_task_mixture_with_a_method():
    records, emb = data()
    config = SelectionConfig(method="facility_location", optimizer="stochastic", budget=30, mixture=MixtureConfig(strategy="proportional"), seed=3)
    result = select(records, emb, config)
    assert [r["chosen"] for r in result.mixture_table] == [10, 10, 10]
    assert result.indices == select(records, emb, config).indices


def test_zipfit_selects_records_closest_to_targets():
    records, _ = data(n=20)
    for i in (3, 11):
        records[i]["instruction"] = "translate the following sentence into french please"
    config = SelectionConfig(method="zipfit", budget=2, zipfit=ZipFitConfig(targets=["translate the following sentence into german please"]))
    result = select(records, None, config)
    assert sorted(result.indices) == [3, 11] and result.gains[0] >= result.gains[1]


def test_budget_none_keeps_everything_in_order():
    records, _ = data(n=7)
    assert select(records, None, SelectionConfig()).indices == list(range(7))


def test_config_errors_name_the_field():
    with pytest.raises(ValidationError, match="not_a_field"):
        SelectionConfig(not_a_field=1)
    with pytest.raises(ValidationError, match="method"):
        SelectionConfig(method="kmeans")
    with pytest.raises(ValidationError, match="budget fraction"):
        SelectionConfig(budget=1.5)
    with pytest.raises(ValidationError, match="zipfit.targets"):
        SelectionConfig(method="zipfit")
    with pytest.raises(ValidationError, match="disparity_sum"):
        SelectionConfig(method="disparity_sum", optimizer="lazy")
    assert SelectionConfig(method="disparity_sum").optimizer == "naive"
    records, _ = data(n=5)
    with pytest.raises(ValueError, match="needs embeddings"):
        select(records, None, SelectionConfig(method="facility_location", budget=2))
    with pytest.raises(ValueError, match="embeddings must be"):
        select(records, np.zeros((4, 3)), SelectionConfig(method="facility_location", budget=2))


def test_empty_input_and_diversity_table():
    assert select([], None, SelectionConfig(method="facility_location")).indices == []
    from selection import diversity_table

    records = [{"id": str(i), "method": "m", "instruction": "the cat sat on the mat", "meta": {"task": "a"}} for i in range(50)]
    rows = diversity_table(records)
    assert rows[0]["task"] == "a" and rows[0]["count"] == 50
    assert rows[0]["cr"] == pytest.approx(1149 / 50)


def test_candidate_restricted_facility_location_uses_a_rectangular_kernel():
    records, emb = data(n=60)
    facilities = np.arange(0, 60, 3)  # candidate sample C; every item stays represented
    result = run_greedy(FacilityLocation(cosine_kernel(emb[facilities], others=emb)), 5, "lazy")
    full = FacilityLocation(cosine_kernel(emb))
    for j in result.indices:
        full.add(int(facilities[j]))
    assert full.objective() == pytest.approx(result.objective, rel=1e-6)
