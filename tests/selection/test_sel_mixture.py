"""Spec §7 mixing fixtures, caps, temperature, explicit weights, template mixing."""

import numpy as np
import pytest

from selection import SelectionConfig, select
from selection.config import MixtureConfig, TemplateMixConfig
from selection.mixture import (
    flan_unit_shares,
    mix_templates,
    mixture_counts,
    mixture_table_markdown,
    normalized,
    parse_amount,
    sample_within,
    task_of,
    task_rates,
)


def test_task_of_prefers_meta_task_then_task_type_then_method():
    assert task_of({"method": "bonito", "meta": {"task": "qa", "task_type": "x"}}) == "qa"
    assert task_of({"method": "bonito", "meta": {"task_type": "nli"}}) == "nli"
    assert task_of({"method": "bonito", "meta": {}}) == "bonito"


def test_examples_proportional_with_cap_fixture():
    config = MixtureConfig(strategy="proportional", cap=30_000)
    rates = task_rates(["a", "b", "c"], [50_000, 3_000, 30_000], config)
    assert rates == [30_000, 3_000, 30_000]
    np.testing.assert_allclose(normalized(rates), [0.4762, 0.0476, 0.4762], atol=5e-5)
    assert mixture_counts(1000, rates, [50_000, 3_000, 30_000]) == [476, 48, 476]


def test_inverted_unit_and_submix_weights_fixture():
    weights = {"flan2021": 0.40, "t0": 0.32, "niv2": 0.20, "cot": 0.05, "dialog": 0.03}
    assert sum(weights.values()) == pytest.approx(1.0)
    caps = {"flan2021": 30_000, "t0": 20_000, "niv2": 5_000, "cot": 100_000, "dialog": 200_000}
    inside, overall = flan_unit_shares([("cot", 8000, 1.0), ("cot", 8000, 0.3)], weights, caps)
    np.testing.assert_allclose(inside, [0.7692, 0.2308], atol=5e-5)
    np.testing.assert_allclose(overall, [0.03846, 0.01154], atol=5e-6)


def test_per_task_caps_and_no_count_above_size():
    config = MixtureConfig(strategy="proportional", cap=100, caps={"small": 5})
    sizes = [1000, 50, 20]
    rates = task_rates(["big", "mid", "small"], sizes, config)
    assert rates == [100, 50, 5]
    counts = mixture_counts(150, rates, sizes)
    assert sum(counts) == 150 and all(c <= s for c, s in zip(counts, sizes))
    assert mixture_counts(200, [1, 1], [50, 50]) == [50, 50]  # shortfall, never above size


def test_temperature_flattens_and_weights_must_name_known_tasks():
    sizes = [900, 100]
    t1 = normalized(task_rates(["a", "b"], sizes, MixtureConfig(strategy="temperature", temperature=1.0)))
    t2 = normalized(task_rates(["a", "b"], sizes, MixtureConfig(strategy="temperature", temperature=2.0)))
    np.testing.assert_allclose(t1, [0.9, 0.1])
    np.testing.assert_allclose(t2, [0.75, 0.25])
    explicit = MixtureConfig(strategy="weights", weights={"a": 1, "b": 3})
    assert task_rates(["a", "b", "c"], [10, 10, 10], explicit) == [1.0, 3.0, 0.0]
    with pytest.raises(ValueError, match="unknown tasks"):
        task_rates(["a"], [10], MixtureConfig(strategy="weights", weights={"typo": 1}))
    with pytest.raises(ValueError, match="weights: required when strategy=.weights."):
        MixtureConfig(strategy="weights")


def test_open_instruct_amounts():
    assert parse_amount("0.25", 1000) == 250
    assert parse_amount("1500", 1000) == 1500


def test_sampling_is_seeded_and_upsamples_only_when_allowed():
    assert sample_within(range(10), 4, seed=3) == sample_within(range(10), 4, seed=3)
    up = sample_within(range(3), 7, seed=1, allow_upsample=True)
    assert len(up) == 7 and up[:6] == [0, 1, 2, 0, 1, 2]
    with pytest.raises(ValueError):
        sample_within(range(3), 7, seed=1)


def _records(sizes):
    return [
        {"id": f"{t}-{i}", "method": "gen", "instruction": f"do {t} {i}", "input": "", "output": f"ok {i}", "meta": {"task": t}}
        for t, n in sizes.items()
        for i in range(n)
    ]


def test_select_with_proportional_mixture_and_table():
    records = _records({"a": 50, "b": 3, "c": 30})
    config = SelectionConfig(method="none", budget=20, mixture=MixtureConfig(strategy="proportional", cap=20), seed=5)
    result = select(records, None, config)
    table = {row["task"]: row for row in result.mixture_table}
    assert [table[t]["chosen"] for t in "abc"] == [9, 2, 9]
    assert table["a"]["available"] == 50 and table["a"]["weight"] == pytest.approx(20 / 43)
    assert len(set(result.indices)) == 20
    assert result.indices == select(records, None, config).indices
    assert "| a | 50 | 9 |" in mixture_table_markdown(result.mixture_table)


def test_select_upsamples_when_allowed():
    records = _records({"a": 4, "b": 4})
    config = SelectionConfig(budget=6, mixture=MixtureConfig(strategy="weights", weights={"a": 5, "b": 1}, allow_upsample=True))
    result = select(records, None, config)
    chosen_a = [i for i in result.indices if records[i]["meta"]["task"] == "a"]
    assert len(chosen_a) == 5 and len(set(chosen_a)) == 4


def test_template_mixing_renders_fewshot_with_same_task_exemplars():
    records = _records({"a": 6, "b": 6})
    mixed = mix_templates(records, TemplateMixConfig(fewshot_fraction=0.5, shots=2), seed=1)
    fewshot = [r for r in mixed if (r.get("meta") or {}).get("template_type") == "few_shot"]
    assert len(fewshot) == 6 and len(mixed) == 12
    for rec in fewshot:
        original = rec["parents"][0]
        exemplars = rec["meta"]["exemplar_ids"]
        assert len(exemplars) == 2 and original not in exemplars
        assert all(e.split("-")[0] == rec["meta"]["task"] for e in exemplars)
        assert rec["id"] != original and rec["instruction"].count("Example") == 2
    assert mixed == mix_templates(records, TemplateMixConfig(fewshot_fraction=0.5, shots=2), seed=1)
    assert mix_templates(records, TemplateMixConfig(), seed=1) == records


def test_input_inversion_records_and_their_mixing_rate():
    from selection.mixture import invert_records

    records = _records({"cot": 4})
    inverted = invert_records(records)
    assert len(inverted) == 4
    first = inverted[0]
    assert first["input"] == "ok 0" and first["output"] == "do cot 0"
    assert first["parents"] == ["cot-0"] and first["meta"]["task"] == "cot/inverted"
    config = MixtureConfig(strategy="proportional")
    rates = task_rates(["cot", "cot/inverted"], [8000, 8000], config)
    np.testing.assert_allclose(normalized(rates), [0.7692, 0.2308], atol=5e-5)
