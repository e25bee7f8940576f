"""Spec §4 SMART fixtures: Taylor weights, budget split, caps, template split, both modes."""

import numpy as np
import pytest

from selection import SelectionConfig, select
from selection.apportion import budget_split, cap_and_sweep, capped_largest_remainder, largest_remainder
from selection.config import SmartConfig
from selection.smart import normalized_weights, plan_smart, task_budgets, taylor_softmax, template_split


def test_taylor_softmax_fixtures():
    np.testing.assert_allclose(taylor_softmax([2.2, 1.5, 0.3]), [0.5307, 0.3423, 0.1270], atol=5e-5)
    np.testing.assert_allclose(taylor_softmax([1000, 900, 100]), [0.5493, 0.4451, 0.0056], atol=5e-5)


def test_raw_gains_behave_like_squared_shares():
    g = np.array([1000, 900, 100.0])
    np.testing.assert_allclose(taylor_softmax(g), g**2 / (g**2).sum(), atol=5e-4)


def test_improved_weights_fixtures():
    gains = [10, 1, 0.5]
    np.testing.assert_allclose(taylor_softmax(gains), [0.9367, 0.0384, 0.0250], atol=5e-5)
    np.testing.assert_allclose(normalized_weights(gains, 1.0), [0.5369, 0.2373, 0.2258], atol=5e-5)
    np.testing.assert_allclose(normalized_weights(gains, 0.5), [0.6826, 0.1666, 0.1509], atol=5e-5)
    np.testing.assert_allclose(normalized_weights(gains, 0.25), [0.8280, 0.0943, 0.0777], atol=5e-5)


def test_budget_split_fixtures():
    assert budget_split(100, [0.5, 0.3, 0.2]) == [50, 30, 20]
    assert budget_split(10, [1, 1, 1]) == [4, 3, 3]


def test_parity_vs_largest_remainder():
    assert budget_split(10, [0.1, 0.15, 0.75]) == [2, 1, 7]
    assert largest_remainder(10, [0.1, 0.15, 0.75]) == [1, 2, 7]


def test_caps_fixture():
    split = budget_split(60, [0.9, 0.05, 0.05])
    assert split == [54, 3, 3]
    capped = cap_and_sweep(split, [5, 100, 100])
    assert capped == [5, 28, 27] and sum(capped) == 60
    assert task_budgets(60, [0.9, 0.05, 0.05], [5, 100, 100], "parity") == [5, 28, 27]
    improved = task_budgets(60, [0.9, 0.05, 0.05], [5, 100, 100], "improved")
    assert improved == capped_largest_remainder(60, [0.9, 0.05, 0.05], [5, 100, 100]) == [5, 28, 27]


def test_budget_larger_than_selected_tasks_is_refused():
    with pytest.raises(ValueError, match="exceeds"):
        task_budgets(300, [0.5, 0.5], [100, 100], "parity")


def test_template_split_fixtures():
    counts = {"zs_opt": 30, "zs_noopt": 10, "fs_opt": 40, "fs_noopt": 20}
    assert template_split(10, counts) == {"zs_opt": 3, "zs_noopt": 1, "fs_opt": 4, "fs_noopt": 2}
    assert template_split(7, counts) == {"zs_opt": 3, "zs_noopt": 0, "fs_opt": 3, "fs_noopt": 1}
    assert template_split(5, {"zs_opt": 8, "zs_noopt": 4}) == {"zs_opt": 4, "zs_noopt": 1}
    assert template_split(5, {"fs_opt": 8}) == {"fs_opt": 5}
    assert template_split(6, {"zs_opt": 1, "fs_opt": 9}) == {"zs_opt": 1, "fs_opt": 5}


def _task_records(rng, n_tasks=6, per_task=(5, 30)):
    records, embs = [], []
    centers = rng.standard_normal((n_tasks, 12))
    for t in range(n_tasks):
        for i in range(int(rng.integers(*per_task))):
            template = ["zs_opt", "zs_noopt", "fs_opt", "fs_noopt"][i % 4]
            records.append({"id": f"t{t}-{i}", "method": "m", "meta": {"task": f"task{t}", "template_type": template}})
            embs.append(centers[t] + 0.5 * rng.standard_normal(12))
    embs = np.array(embs, dtype=np.float32)
    return records, embs / np.linalg.norm(embs, axis=1, keepdims=True)


def test_gc_stage1_on_the_g3_kernel_orders_tasks():
    # Task embeddings whose raw cosine kernel is S' (G3): rows of its Cholesky factor.
    s_prime = np.array([[1, 0.9, 0.1, 0], [0.9, 1, 0.2, 0.1], [0.1, 0.2, 1, 0.7], [0, 0.1, 0.7, 1]])
    factor = np.linalg.cholesky(s_prime)
    plan = plan_smart(["a", "b", "c", "d"], factor, 3, SmartConfig(num_tasks=3))
    assert plan.order == [1, 2, 0]
    np.testing.assert_allclose(plan.gains, [1.8, 1.44, 0.8], atol=1e-9)


@pytest.mark.parametrize("mode", ["parity", "improved"])
def test_end_to_end_exact_size_prefix_and_determinism(mode):
    rng = np.random.default_rng(0)
    records, emb = _task_records(rng)
    config = SelectionConfig(method="smart", budget=40, smart=SmartConfig(mode=mode, num_tasks=4))
    result = select(records, emb, config)
    assert len(result.indices) == 40 and len(set(result.indices)) == 40
    chosen_tasks = {records[i]["meta"]["task"] for i in result.indices}
    top = set(result.details["task_order"])
    assert len(top) == 4 and chosen_tasks <= top
    rows = {r["task"]: r for r in result.mixture_table}
    assert sum(r["chosen"] for r in rows.values()) == 40
    assert all(rows[t]["chosen"] == 0 for t in rows if t not in top)
    assert all(r["chosen"] <= r["available"] for r in rows.values())
    again = select(records, emb, config)
    assert again.indices == result.indices  # seed 23 shuffle is deterministic
    other = select(records, emb, config.model_copy(update={"smart": SmartConfig(mode=mode, num_tasks=4, shuffle_seed=1)}))
    assert sorted(other.indices) == sorted(result.indices) and other.indices != result.indices


def test_smart_weights_flaw_fl_concentrates_budget():
    rng = np.random.default_rng(1)
    base = rng.standard_normal(16)
    tasks = base + 0.6 * rng.standard_normal((60, 16))
    parity = plan_smart([f"t{i}" for i in range(60)], tasks, 20, SmartConfig(f1="fl", num_tasks=20, mode="parity"))
    improved = plan_smart([f"t{i}" for i in range(60)], tasks, 20, SmartConfig(f1="fl", num_tasks=20, mode="improved"))
    assert parity.weights[0] > 0.9  # the first FL gain is a whole column sum
    assert improved.weights[0] < 0.3
