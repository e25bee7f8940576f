"""Quality gate against the labelled check set, and the usable yield of a fresh Bonito run.

Figures (one JSON line each, issue 10):
- gate_keep_precision: share of the check-set records the gate keeps that are labelled usable (goal >= 0.9);
  baseline: the rule filters alone (the curation before the gate).
- gate_junk_recall: share of the records labelled unusable that the gate rejects (goal >= 0.9); same baseline.
  Both are also printed for the two halves of the set (split by source passage): `tune` is the half the
  thresholds were chosen on, `holdout` the half they were not.
- bonito_usable_yield: usable records kept by the gate / candidates, on a fresh run of the packaged model
  in the "fields" prompted format (records matched to their labels by id and text; unlabelled kept records
  are counted as not usable, so this is a lower bound); baseline: the old "json" prompted format's yield on
  the check set.

    PYTHONPATH=. python bench/quality.py            # fixture figures + a fresh run (minutes on a CPU)
    PYTHONPATH=. python bench/quality.py --quick    # fixture figures only
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from collections import Counter

HERE = os.path.dirname(os.path.abspath(__file__))
CHECKSET = os.path.join(HERE, "..", "tests", "quality")
sys.path.insert(0, os.path.join(HERE, ".."))

# filters/ is imported after the vLLM engine starts (see main): vLLM's CPU worker scans the
# modules already loaded when it forks, and numba's llvmlite (loaded by filters/) makes that scan fail.


def load_checkset() -> list[dict]:
    labels = {}
    with open(os.path.join(CHECKSET, "labels.jsonl"), encoding="utf-8") as f:
        for line in f:
            if line.strip():
                row = json.loads(line)
                labels[row["id"]] = row
    records = []
    with open(os.path.join(CHECKSET, "checkset.jsonl"), encoding="utf-8") as f:
        for line in f:
            if line.strip():
                record = json.loads(line)
                record["label"] = labels[record["id"]]
                records.append(record)
    return records


def half(record: dict) -> str:
    """`tune` or `holdout`, by source passage (records of one passage stay together)."""
    digest = hashlib.sha256(record["source_id"].encode()).digest()[0]
    return "tune" if digest % 2 == 0 else "holdout"


def gate(record: dict, with_task_form: bool = True) -> str | None:
    from filters.rules import RulesConfig
    from filters.scan import rule_verdict
    from filters.task_form import TaskFormConfig, task_form_verdict

    verdict = rule_verdict(record, RulesConfig())
    if verdict is None and with_task_form:
        verdict = task_form_verdict(record, TaskFormConfig(enabled=True))
    return None if verdict is None else verdict[0]


def scores(records: list[dict], with_task_form: bool = True) -> dict[str, float]:
    kept = [r for r in records if gate(r, with_task_form) is None]
    junk = [r for r in records if not r["label"]["usable"]]
    caught = [r for r in junk if gate(r, with_task_form) is not None]
    return {
        "precision": sum(r["label"]["usable"] for r in kept) / len(kept) if kept else 0.0,
        "recall": len(caught) / len(junk) if junk else 1.0,
        "kept": len(kept),
        "records": len(records),
    }


def emit(metric: str, value: float, unit: str, baseline: str, goal: str, **extra) -> None:
    print(json.dumps({"metric": metric, "value": round(value, 4), "unit": unit, "baseline": baseline, "goal": goal, **extra}))


def judged_scores(records: list[dict], engine) -> dict[str, float]:
    """Gate, then the LLM judge (filters/judge.py) on what the gate keeps, with `engine` as the judge."""
    from filters.judge import JudgeConfig, judge_records

    kept = [dict(r, meta=dict(r["meta"])) for r in records if gate(r) is None]
    judged, _ = judge_records(kept, engine, JudgeConfig(enabled=True), run_seed=42)
    ids = {r["id"] for r in judged}
    junk = [r for r in records if not r["label"]["usable"]]
    return {
        "precision": sum(r["label"]["usable"] for r in judged) / len(judged) if judged else 0.0,
        "recall": sum(r["id"] not in ids for r in junk) / len(junk) if junk else 1.0,
        "kept": len(ids),
    }


def start_engine():
    from taskmill.engine.settings import EngineSettings
    from taskmill.engine.vllm_backend import VLLMEngine

    return VLLMEngine(EngineSettings(max_model_len=2048, max_num_seqs=64))


def fresh_yield(records: list[dict], engine) -> tuple[float, dict]:
    """Run the packaged model on the check set's passages in the fields format; usable kept / candidates."""
    sys.path.insert(0, CHECKSET)
    from make_checkset import generators, package_docs, pydoc_docs, slim  # noqa: E402

    labelled = {(r["id"], r["output"]): r["label"]["usable"] for r in records}
    docs = pydoc_docs(14, seed=7) + package_docs(6)
    name, gen = generators(20)[0]
    candidates = usable = kept = unlabelled = 0
    for shard in gen.plan_shards(docs):
        out = gen.run_shard(shard, engine)
        candidates += len(out.kept) + len(out.rejects)
        for record in out.kept:
            row = slim(record, name)
            if gate(row) is not None:
                continue
            kept += 1
            label = labelled.get((row["id"], row["output"]))
            unlabelled += label is None
            usable += bool(label)
    detail = {"candidates": candidates, "kept": kept, "unlabelled_kept": unlabelled}
    return (usable / candidates if candidates else 0.0), detail


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fixture figures only, no fresh model run")
    args = parser.parse_args()
    engine = None if args.quick else start_engine()
    records = load_checkset()
    kinds = Counter(r["label"]["kind"] for r in records if not r["label"]["usable"])
    print(f"check set: {len(records)} records, {sum(r['label']['usable'] for r in records)} usable; unusable kinds {dict(kinds)}", file=sys.stderr)
    rules_only = scores(records, with_task_form=False)
    full = scores(records)
    base = f"rule filters only: precision {rules_only['precision']:.3f}, recall {rules_only['recall']:.3f}"
    emit("gate_keep_precision", full["precision"], "share", base, ">= 0.9", kept=full["kept"], records=full["records"])
    emit("gate_junk_recall", full["recall"], "share", base, ">= 0.9")
    for split in ("tune", "holdout"):
        part = scores([r for r in records if half(r) == split])
        emit(f"gate_keep_precision_{split}", part["precision"], "share", base, ">= 0.9", kept=part["kept"], records=part["records"])
        emit(f"gate_junk_recall_{split}", part["recall"], "share", base, ">= 0.9")
    missed = Counter(r["label"]["kind"] for r in records if not r["label"]["usable"] and gate(r) is None)
    wrongly = Counter(gate(r) for r in records if r["label"]["usable"] and gate(r) is not None)
    print(f"junk let through by kind: {dict(missed)}; usable rejected by reason: {dict(wrongly)}", file=sys.stderr)
    funnel_path = os.path.join(CHECKSET, "checkset_funnel.json")
    with open(funnel_path, encoding="utf-8") as f:
        funnel = json.load(f)
    old = [r for r in records if r["generator"] == "bonito-json"]  # the whole-pair JSON prompt before issue 10
    old_yield = sum(r["label"]["usable"] and gate(r) is None for r in old) / funnel["bonito-json"]["candidates"]
    if args.quick:
        return
    value, detail = fresh_yield(records, engine)
    emit("bonito_usable_yield", value, "usable kept / candidates", f"old json prompted format on the check set: {old_yield:.3f}", "report", **detail)
    # The same figures with the optional judge after the gate, the packaged model judging.
    judged = judged_scores(records, engine)
    base = f"gate alone: precision {full['precision']:.3f}, recall {full['recall']:.3f}"
    emit("gate_judge_keep_precision", judged["precision"], "share", base, ">= 0.9", kept=judged["kept"], judge=engine.model_name)
    emit("gate_judge_junk_recall", judged["recall"], "share", base, ">= 0.9", judge=engine.model_name)


if __name__ == "__main__":
    main()
