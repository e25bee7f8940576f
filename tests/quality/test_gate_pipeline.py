"""The gate inside curate(), the per-generator report built from a run directory, and the whole flow.

The last test runs the real flow (Prefect, Ray, the packaged model on vLLM) with
the gate, the round-trip check and the judge on; it checks accounting and what the user is shown,
not the quality of what a 135M model writes.
"""

from __future__ import annotations

import pytest

from filters.gate_report import render_quality_markdown
from flows.generate import generated_stage, rejects_stage
from flows.quality import gate_table_rows, quality_by_generator
from taskmill.records import make_record, reject, to_table
from taskmill.store import RunStore
from tests.curation.curation_helpers import run_curate

PASSAGE = "Honey bees collect nectar from flowers and store it in wax cells, where it thickens into honey."


def bonito(i: int, task: str, output: str, task_type: str = "question answering without choices") -> dict:
    return make_record(
        method="bonito", source_id=f"doc-{i}", instruction=f"{PASSAGE}\n\n{task}", output=output, seed=i,
        meta={"context": PASSAGE, "task_type": task_type},
    )  # fmt: skip


GOOD = bonito(1, "Where do honey bees store nectar?", "In wax cells.")
ECHO = bonito(2, "The passage is here.", "The passage is here.")
OFF = bonito(3, "What is the best way to prepare for a job interview?", "Practice your answers.")
EMPTY = bonito(4, "What do bees collect?", "")


def test_curate_runs_the_gate_after_the_rules_and_counts_it_in_the_funnel():
    report, kept, rejects = run_curate([[GOOD, ECHO], [OFF, EMPTY]], {"task_form": {"enabled": True}})
    assert [r["id"] for r in kept] == [GOOD["id"]]
    got = {r["id"]: (r["reject_reason"], r["reject_stage"]) for r in rejects}
    assert got == {ECHO["id"]: ("echo", "task_form"), OFF["id"]: ("ungrounded", "task_form"), EMPTY["id"]: ("empty_response", "rules")}
    off = next(r for r in rejects if r["id"] == OFF["id"])
    assert off["meta"]["curation"] == {"stage": "task_form", "detail": {"lexical_overlap": 0.0}}
    assert off["meta"]["context"] == PASSAGE  # the record keeps everything it had
    funnel = [(f.stage, f.seen, f.kept, f.rejected) for f in report.funnel[:2]]
    assert funnel == [("rules", 4, 3, {"empty_response": 1}), ("task_form", 3, 1, {"echo": 1, "ungrounded": 1})]
    report_off, kept_off, _ = run_curate([[GOOD, ECHO]], {"task_form": {"enabled": False}})
    assert len(kept_off) == 2 and [f.stage for f in report_off.funnel][:2] == ["rules", "exact"]


def test_quality_report_per_generator_from_the_run_directory(tmp_path):
    store = RunStore(str(tmp_path))
    store.write_shard(generated_stage("bonito"), 0, to_table([GOOD, ECHO, OFF]))
    store.write_shard(rejects_stage("bonito"), 0, to_table([reject(EMPTY, "malformed_json", "bonito")]))
    other = make_record(method="bonito", source_id="x", instruction="Q?", output="A", seed=9)
    store.write_shard(generated_stage("bonito-2"), 0, to_table([other]))
    store.write_shard("rejects/curation", 0, to_table([reject(ECHO, "echo", "task_form", similarity=1.0), reject(OFF, "near_dup", "minhash")]))
    store.write_shard("curated", 0, to_table([GOOD, other]))
    store.write_shard("selected", 0, to_table([GOOD]))
    quality = quality_by_generator(store, ["bonito", "bonito-2"])
    row = quality["bonito"]
    assert {k: row[k] for k in ("candidates", "parsed", "after_gate", "curated", "selected")} == {
        "candidates": 4, "parsed": 3, "after_gate": 2, "curated": 1, "selected": 1,
    }  # fmt: skip
    assert row["rejects"] == {"generator": {"malformed_json": 1}, "gate": {"echo": 1}, "dedup": {"near_dup": 1}}
    assert [s["id"] for s in row["samples_kept"]] == [GOOD["id"]]
    assert row["samples_rejected"] == [{"id": ECHO["id"], "instruction": ECHO["instruction"], "output": ECHO["output"], "reason": "echo"}]
    assert quality["bonito-2"]["candidates"] == 1 and quality["bonito-2"]["selected"] == 0
    markdown = render_quality_markdown(quality)
    assert "| bonito | 4 | 3 | 2 | 1 | 1 | 25% |" in markdown and "| rejected | echo | Honey bees" in markdown
    assert {"generator": "bonito", "stage": "gate", "reason": "echo", "records": 1} in gate_table_rows(quality)


def test_quality_report_counts_the_roundtrip_stage(tmp_path):
    store = RunStore(str(tmp_path))
    store.write_shard(generated_stage("bonito"), 0, to_table([GOOD, OFF]))
    store.write_shard("curated", 0, to_table([GOOD, OFF]))
    store.write_shard("roundtrip", 0, to_table([GOOD]))
    store.write_shard("rejects/roundtrip", 0, to_table([reject(OFF, "roundtrip_disagree", "roundtrip", score=0.1)]))
    store.write_shard("selected", 0, to_table([GOOD]))
    row = quality_by_generator(store, ["bonito"], roundtrip=True)["bonito"]
    assert {k: row[k] for k in ("parsed", "after_gate", "curated", "roundtrip", "selected")} == {
        "parsed": 2, "after_gate": 2, "curated": 2, "roundtrip": 1, "selected": 1,
    }  # fmt: skip
    assert row["rejects"]["roundtrip"] == {"roundtrip_disagree": 1}
    assert [s["reason"] for s in row["samples_rejected"]] == ["roundtrip_disagree"]
    assert "| bonito | 2 | 2 | 2 | 2 | 1 | 1 | 50% |" in render_quality_markdown(quality_by_generator(store, ["bonito"], roundtrip=True))


@pytest.mark.vllm
@pytest.mark.slow
def test_flow_with_gate_and_judge_shows_the_user_what_was_kept(tmp_path, prefect_harness, vllm_engine):
    from flows.pipeline import pipeline

    docs = [
        "The ferry leaves the harbour at 7 am and 5 pm; on Sundays only the morning boat runs.",
        "Copper conducts heat well, which is why many cooking pans have a copper base.",
    ]
    config = {
        "name": "gate",
        "run_root": str(tmp_path / "runs"),
        "sources": [{"kind": "inline", "texts": docs}],
        "generators": [{"method": "bonito", "tasks": {"ynqa": None, "qa": None}, "n": 2, "max_tokens": 128}],
        "curation": {"task_form": {"enabled": True}, "roundtrip": {"enabled": True}, "judge": {"enabled": True, "threshold": 2.0}},
        "selection": {"method": "none"},
        "export": {"formats": ["messages"], "dataset_name": "gate"},
    }
    summary = pipeline(config=config)
    row = summary["quality"]["bonito"]
    assert row["candidates"] == 8 and row["parsed"] + sum(row["rejects"]["generator"].values()) == 8
    assert row["after_gate"] >= row["curated"] >= row["roundtrip"] >= row["judged"] == row["selected"]
    checked = summary["roundtrip"]
    assert checked["seen"] == row["curated"] and checked["kept"] + sum(checked["rejected"].values()) == checked["seen"]
    assert checked["requests"] + checked["unchecked"] == checked["seen"]
    assert summary["records_per_stage"]["roundtrip"] == checked["kept"] == row["roundtrip"]
    judge = summary["judge"]
    assert judge["seen"] == row["roundtrip"] and judge["kept"] + sum(judge["rejected"].values()) == judge["seen"]
    card = open(summary["export"]["card"], encoding="utf-8").read()
    assert "## Quality gate" in card and "| generator | candidates | parsed | after_gate |" in card
    store = RunStore(summary["run_dir"])
    for record in store.read_stage("judged").to_pylist():
        assert '"judge"' in record["meta"] and '"scores"' in record["meta"]
