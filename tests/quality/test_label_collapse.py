"""Label collapse (filters/label_collapse.py): a closed-label task answered with one label is rejected as a group."""

from __future__ import annotations

from filters.label_collapse import LabelCollapseConfig, collapsed, label_of
from taskmill.records import make_record
from tests.curation.curation_helpers import run_curate

REVIEWS = [
    "The kettle boils fast and the handle stays cool.", "The strap broke on the second day.",
    "The lamp is bright enough for reading at night.", "Delivery took three weeks and the box was crushed.",
    "The chair is sturdy and easy to assemble.", "The blender is loud and leaks at the lid.",
]  # fmt: skip


def self_guide(i: int, output: str, task: str = "review_sentiment", model: str = "m") -> dict:
    """A Self-Guide classification record whose vote agrees with its target label (else target_label_mismatch)."""
    return make_record(
        method="self_guide", source_id=task, instruction="Is the review positive, negative or neutral?",
        input=REVIEWS[i % len(REVIEWS)] + f" ({i})", output=output, seed=i, model=model,
        meta={"task": task, "stage": "output", "target_label": output},
    )  # fmt: skip


def test_label_of_reads_the_label_of_closed_tasks_only():
    assert label_of({"method": "self_guide", "model": "m", "output": " Positive\n", "meta": {"task": "t", "target_label": "negative"}}) == ("self_guide|m|t", "positive")
    assert label_of({"method": "self_guide", "model": "m", "output": "A headline", "meta": {"task": "t", "target_label": None}}) is None
    yes_no = {"method": "bonito", "model": "m", "output": "No, it does not.", "meta": {"task_type": "yes-no question answering"}}
    assert label_of(yes_no) == ("bonito|m|yes-no question answering", "no")
    mc = {"method": "bonito", "model": "m", "output": "B. s3fs", "meta": {"task_type": "multiple-choice question answering"}}
    assert label_of(mc) == ("bonito|m|multiple-choice question answering", "B")
    mc_fields = {**mc, "meta": {**mc["meta"], "fields": {"answer": "c"}}}
    assert label_of(mc_fields)[1] == "C"
    assert label_of({"method": "bonito", "model": "m", "output": "In wax cells.", "meta": {"task_type": "extractive question answering"}}) is None


def test_a_group_collapses_at_the_share_and_size_bounds():
    cfg = LabelCollapseConfig()  # max_share 0.9, min_group 5
    nine_of_ten = [("g", "positive")] * 9 + [("g", "negative")]
    assert sorted(collapsed(nine_of_ten, cfg)) == list(range(10))
    assert collapsed(nine_of_ten, cfg)[0] == {"label": "positive", "share": 0.9, "group": 10, "task": "g"}
    assert collapsed([("g", "positive")] * 8 + [("g", "negative")] * 2, cfg) == {}  # 0.8 < 0.9
    assert collapsed([("g", "positive")] * 4, cfg) == {}  # fewer than min_group
    mixed = [("a|m|t", "yes")] * 5 + [None] + [("b|m|t", "yes"), ("b|m|t", "no")] * 3
    assert sorted(collapsed(mixed, cfg)) == [0, 1, 2, 3, 4]  # only group a; the free-form record is not counted
    assert collapsed([("g", "positive")] * 6, LabelCollapseConfig(enabled=False)) == {}


def test_curate_rejects_a_collapsed_group_with_its_reason_and_keeps_the_rest():
    collapsed_group = [self_guide(i, "positive") for i in range(6)]
    balanced = [self_guide(10 + i, label, model="other") for i, label in enumerate(["positive", "negative"] * 3)]
    duplicate = dict(collapsed_group[0], id="self_guide-dup")  # an exact duplicate of a collapsed record
    report, kept, rejects = run_curate([collapsed_group[:3] + balanced[:3], collapsed_group[3:] + balanced[3:] + [duplicate]], {})
    assert sorted(r["id"] for r in kept) == sorted(r["id"] for r in balanced)
    by_id = {r["id"]: r for r in rejects}
    assert {by_id[r["id"]]["reject_reason"] for r in collapsed_group} == {"label_collapse"}
    assert by_id["self_guide-dup"]["reject_reason"] == "label_collapse"  # collapsed first; not also an exact dup
    first = by_id[collapsed_group[0]["id"]]
    assert first["reject_stage"] == "task_form"
    assert first["meta"]["curation"]["detail"] == {"label": "positive", "share": 1.0, "group": 7, "task": "review_sentiment"}
    task_form = next(f for f in report.funnel if f.stage == "task_form")
    assert (task_form.seen, task_form.kept, task_form.rejected) == (13, 6, {"label_collapse": 7})
    exact = next(f for f in report.funnel if f.stage == "exact")
    assert (exact.seen, exact.kept) == (6, 6)
    _, kept_off, _ = run_curate([collapsed_group], {"task_form": {"label_collapse": {"enabled": False}}})
    assert len(kept_off) == 6
    _, kept_off, _ = run_curate([collapsed_group], {"task_form": {"label_collapse": False}})  # the short form
    assert len(kept_off) == 6
