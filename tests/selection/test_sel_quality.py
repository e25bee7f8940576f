"""Quality × diversity (selection/quality.py): F(S) = f(S) + λ Σ q_j in facility location and SMART."""

import numpy as np
import pytest
from pydantic import ValidationError

from selection import SelectionConfig, select
from selection.kernels import cosine_kernel
from selection.quality import QualityConfig, WithQuality, quality_scores
from selection.submodular import FacilityLocation


def records_with_duplicates(low: dict, high: dict):
    """Two tasks, each with a duplicate pair (low quality first) and one distinct record."""
    emb = np.array(
        [[1, 0, 0, 0], [1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 1, 0], [0, 0, 0, 1]], dtype=np.float32
    )
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    metas = [low, high, {}, low, high, {}]
    records = [
        {"id": f"r{i}", "method": "bonito", "instruction": f"q{i}", "output": "a", "meta": {"task": f"t{i // 3}", "template_type": "zs_opt", **m}}
        for i, m in enumerate(metas)
    ]
    return records, emb


LOW_RT, HIGH_RT = {"roundtrip": {"score": 0.3}}, {"roundtrip": {"score": 1.0}}


def test_a_higher_quality_duplicate_wins_over_a_lower_quality_one_in_facility_location():
    records, emb = records_with_duplicates(LOW_RT, HIGH_RT)
    plain = select(records, emb, SelectionConfig(method="facility_location", budget=4))
    assert {0, 3} <= set(plain.indices) and not {1, 4} & set(plain.indices)  # diversity alone: the first of each pair
    weighted = select(records, emb, SelectionConfig(method="facility_location", budget=4, quality={"weight": 1.0}))
    assert {1, 4} <= set(weighted.indices) and not {0, 3} & set(weighted.indices)
    assert sorted(weighted.indices) == [1, 2, 4, 5]  # still one per cluster: diversity is kept
    assert weighted.details["quality"]["weight"] == 1.0


def test_the_judge_score_weights_smart_and_per_task_selection_too():
    low, high = {"judge": {"mean": 2.0}}, {"judge": {"mean": 5.0}}
    records, emb = records_with_duplicates(low, high)
    for extra in ({"method": "smart"}, {"method": "facility_location", "mixture": {"strategy": "proportional"}}):
        plain = select(records, emb, SelectionConfig(budget=2, **extra))
        weighted = select(records, emb, SelectionConfig(budget=2, quality={"weight": 2.0, "signal": "judge"}, **extra))
        assert set(plain.indices) == {0, 3}, extra
        assert set(weighted.indices) == {1, 4}, extra


def test_quality_scores_combine_signals_and_fill_missing():
    records = [
        {"meta": {"judge": {"mean": 5.0}, "roundtrip": {"score": 0.5}}},
        {"meta": {"judge": {"mean": 1.0}}},
        {"meta": {}},
        {},
    ]
    assert quality_scores(records, QualityConfig()).tolist() == [0.75, 0.0, 1.0, 1.0]
    assert quality_scores(records, QualityConfig(signal="roundtrip", missing=0.5)).tolist() == [0.5, 0.5, 0.5, 0.5]


def test_with_quality_adds_the_modular_term_to_gains_and_objective():
    emb = np.eye(3, dtype=np.float32)
    q = np.array([0.0, 0.5, 1.0])
    f = WithQuality(FacilityLocation(cosine_kernel(emb)), q, weight=2.0)
    assert f.gains(np.arange(3)).tolist() == pytest.approx([1.0, 2.0, 3.0])
    f.add(2)
    f.add(1)
    assert f.objective() == pytest.approx(2.0 + 2.0 * 1.5)
    with pytest.raises(ValueError, match="shape"):
        WithQuality(FacilityLocation(cosine_kernel(emb)), q[:2], weight=1.0)


def test_quality_weight_needs_a_set_function_method():
    with pytest.raises(ValidationError, match="quality.weight needs a greedy set-function method"):
        SelectionConfig(method="none", quality={"weight": 1.0})
    with pytest.raises(ValidationError):
        SelectionConfig(method="facility_location", quality={"weight": -1})
