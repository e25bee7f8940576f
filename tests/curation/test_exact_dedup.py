import numpy as np

from filters import CurationConfig
from filters.exact import exact_digest, exact_duplicates

from curation_helpers import rec, run_curate


def digests(records, mode="pair"):
    return np.frombuffer(b"".join(exact_digest(r, mode) for r in records), dtype=np.uint8).reshape(-1, 32)


def test_keeps_first_occurrence():
    r1, r2, r3 = rec("Hello  World", "A"), rec("hello world", " a "), rec("Other", "A")
    rep = exact_duplicates(digests([r1, r2, r3]))
    assert rep.tolist() == [0, 0, 2]


def test_prompt_mode_ignores_the_answer():
    records = [rec("Same prompt", "answer one"), rec("same  PROMPT", "answer two")]
    assert exact_duplicates(digests(records)).tolist() == [0, 1]
    assert exact_duplicates(digests(records, "prompt")).tolist() == [0, 0]


def test_priority_then_input_order():
    records = [rec("p", "a"), rec("p", "a"), rec("p", "a"), rec("q", "a")]
    rep = exact_duplicates(digests(records), priority=np.array([0, 5, 5, 0]))
    assert rep.tolist() == [1, 1, 1, 3]


def test_pipeline_rejects_carry_dup_of():
    r1, r2, r3 = rec("What is 2+2?", "4"), rec("what is 2+2?", "4"), rec("What is 3+3?", "6")
    report, kept, rejects = run_curate([[r1, r2, r3]], CurationConfig(minhash={"enabled": False}, task_form={"enabled": False}))
    assert [r["id"] for r in kept] == [r1["id"], r3["id"]]
    assert len(rejects) == 1
    reject = rejects[0]
    assert (reject["id"], reject["reject_reason"], reject["reject_stage"]) == (r2["id"], "exact_dup", "exact")
    assert reject["meta"]["curation"] == {"stage": "exact", "detail": {"dup_of": r1["id"]}}
    assert report.funnel[1].rejected == {"exact_dup": 1}


def test_priority_by_method_in_pipeline():
    synthetic, human = rec("Name a color.", "Blue", method="bonito"), rec("Name a color.", "blue", method="human")
    config = {"priority": {"human": 1}, "minhash": {"enabled": False}}
    _, kept, rejects = run_curate([[synthetic, human]], config)
    assert [r["id"] for r in kept] == [human["id"]]
    assert rejects[0]["meta"]["curation"]["detail"]["dup_of"] == human["id"]
