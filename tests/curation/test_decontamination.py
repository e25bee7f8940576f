import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from filters.decontaminate import DecontaminationConfig, EvalIndex, EvalSet, dataset_report

from curation_helpers import rec, run_curate

EVAL = " ".join(f"w{i}" for i in range(1, 21))
TOPICS = ["autumn leaves", "a busy harbor", "quiet libraries", "mountain trains", "desert rain"]


def words(lo: int, hi: int) -> str:
    return " ".join(f"w{i}" for i in range(lo, hi + 1))


def index_for(*prompts: str, **cfg) -> EvalIndex:
    return EvalIndex.build(DecontaminationConfig(evals=[EvalSet(name="ev", prompts=list(prompts))], **cfg))


@pytest.mark.parametrize(
    "training, coverage",
    [
        (f"x y {words(1, 10)} z", None),  # 10/20 = 0.50: not > 0.5
        (f"x y {words(1, 11)} z", 0.55),
        (words(1, 8), None),  # 0.40
        (words(11, 18), None),  # 0.40 from a different instance does not add up
        (f"{words(1, 8)} q {words(11, 18)}", 0.80),
    ],
)
def test_instance_rule_vectors(training, coverage):
    hits = index_for(EVAL).match(training)
    assert hits == ([] if coverage is None else [(0, pytest.approx(coverage))])


def test_short_eval_prompt_uses_exact_norm_fallback():
    index = index_for("What is two plus two?")  # 6 tokens < 8
    assert index.match("  what IS two plus   two? ") == [(0, 1.0)]
    assert index.match("What is two plus three?") == []


def test_dataset_rule_is_strict_and_per_eval():
    cfg = DecontaminationConfig()
    index = index_for(*[f"item {k} " + words(1, 10) for k in range(100)])
    two = [("D", f"r{k}", k, 0.9) for k in range(2)]
    rows, hits, flagged = dataset_report(index, two, {"D": 10}, cfg)
    assert (rows[0]["hit"], rows[0]["percent"], rows[0]["flagged"]) == (2, 2.0, False)
    three = two + [("D", "r2", 2, 0.9)]
    rows, hits, flagged = dataset_report(index, three, {"D": 10}, cfg)
    assert (rows[0]["hit"], rows[0]["flagged"]) == (3, True)
    assert flagged == {("D", "ev")}
    assert hits[2] == {"dataset": "D", "eval": "ev", "eval_id": "2", "record_id": "r2", "coverage": 0.9}


def test_eval_files_and_datasets_dirs(tmp_path):
    items = [{"question": EVAL, "uid": "q-1"}, {"question": "unrelated short one"}]
    (tmp_path / "a.jsonl").write_text("\n".join(json.dumps(i) for i in items))
    (tmp_path / "b.json").write_text(json.dumps(items))
    (tmp_path / "c.txt").write_text(EVAL + "\n\nanother line\n")
    pq.write_table(pa.Table.from_pylist([{"prompt": EVAL}]), tmp_path / "d.parquet")
    (tmp_path / "e.csv").write_text("id,problem\n7," + EVAL + "\n")
    datasets = pytest.importorskip("datasets")
    datasets.DatasetDict({"test": datasets.Dataset.from_list([{"instruction": EVAL}])}).save_to_disk(str(tmp_path / "f"))
    evals = [
        EvalSet(name="a", path=str(tmp_path / "a.jsonl"), id_field="uid"),
        EvalSet(name="b", path=str(tmp_path / "b.json"), field="question"),
        EvalSet(name="c", path=str(tmp_path / "c.txt")),
        EvalSet(name="d", path=str(tmp_path / "d.parquet")),
        EvalSet(name="e", path=str(tmp_path / "e.csv"), id_field="id"),
        EvalSet(name="f", path=str(tmp_path / "f"), split="test"),
    ]
    index = EvalIndex.build(DecontaminationConfig(evals=evals))
    assert index.sizes == {"a": 2, "b": 2, "c": 2, "d": 1, "e": 1, "f": 1}
    hit_items = [index.items[i] for i, _ in index.match(EVAL)]
    assert [(h.eval_name, h.eval_id) for h in hit_items] == [("a", "q-1"), ("b", "0"), ("c", "0"), ("d", "0"), ("e", "7"), ("f", "0")]
    with pytest.raises(ValueError, match="exactly one"):
        EvalSet(name="x")
    with pytest.raises(ValueError, match=r"evals\['y'\] item 0: eval item has no field 'nope'"):
        EvalIndex.build(DecontaminationConfig(evals=[EvalSet(name="y", path=str(tmp_path / "d.parquet"), field="nope")]))
    (tmp_path / "g.jsonl").write_text(json.dumps({"answer": "x"}))
    with pytest.raises(ValueError, match="none of the prompt fields"):
        EvalIndex.build(DecontaminationConfig(evals=[EvalSet(name="g", path=str(tmp_path / "g.jsonl"))]))


def test_pipeline_removes_planted_contamination_and_reports_it():
    clean = [rec(f"Write a haiku about {topic}.", "Leaves fall.") for topic in TOPICS]
    planted = rec(f"Please solve: {words(1, 15)}", "42", method="bonito")
    config = {"decontamination": {"evals": [{"name": "bench", "prompts": [EVAL, "What is the capital of France?"]}]}}
    report, kept, rejects = run_curate([clean, [planted]], config)
    assert planted["id"] not in {r["id"] for r in kept} and len(kept) == 5
    (reject,) = rejects
    assert (reject["reject_reason"], reject["reject_stage"]) == ("contaminated", "decontamination")
    assert reject["meta"]["curation"]["detail"] == {"eval": "bench", "eval_id": "0", "coverage": 0.75}
    assert report.contamination_hits == [
        {"dataset": "bonito", "eval": "bench", "eval_id": "0", "record_id": planted["id"], "coverage": 0.75}
    ]
    by_dataset = {(r["dataset"], r["eval"]): r for r in report.decontamination}
    assert by_dataset[("bonito", "bench")]["hit"] == 1 and by_dataset[("bonito", "bench")]["flagged"]
    assert by_dataset[("test", "bench")]["hit"] == 0
    assert report.funnel[-1].rejected == {"contaminated": 1}


def test_actions_report_only_and_drop_dataset():
    clean = [rec(f"Describe {topic} briefly.", "It is nice.", method="bonito") for topic in TOPICS[:3]]
    other = [rec("Name a prime number.", "7", method="sql")]
    planted = rec(f"Please solve: {words(1, 15)}", "42", method="bonito")
    evals = [{"name": "bench", "prompts": [EVAL]}]
    report, kept, rejects = run_curate([clean + other + [planted]], {"decontamination": {"evals": evals, "action": "report_only"}})
    assert len(kept) == 5 and not rejects and len(report.contamination_hits) == 1
    report, kept, rejects = run_curate([clean + other + [planted]], {"decontamination": {"evals": evals, "action": "drop_dataset"}})
    assert [r["method"] for r in kept] == ["sql"]
    assert {r["reject_reason"] for r in rejects} == {"contaminated"} and len(rejects) == 4
    assert rejects[0]["meta"]["curation"]["detail"] == {"dataset": "bonito", "dataset_flagged_for": "bench"}
