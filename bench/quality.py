"""Quality gate against the labelled check set, and the usable yield of a fresh Bonito run.

Figures (one JSON line each, issue 10):
- gate_keep_precision: share of the check-set records the gate keeps that are labelled usable (goal >= 0.9).
  The gate is the rule filters, the task-form checks, label collapse over each generator's records
  (filters/label_collapse.py) and (unless --quick) the round-trip consistency check
  with the packaged model re-answering (filters/roundtrip.py); baseline: the same without the round-trip.
- gate_junk_recall: share of the records labelled unusable that the gate rejects (goal >= 0.9); same baseline.
  Both are also printed for the two halves of the set (split by source passage): the round-trip threshold
  is chosen on `tune` (best harmonic mean of precision and recall there) and reported on `holdout`;
  and per generator (lines with a "generator" key).
- bonito_usable_yield: usable records kept by the gate / candidates, on a fresh run of the packaged model
  in the "fields" prompted format (records matched to their labels by id and text; unlabelled kept records
  are counted as not usable, so this is a lower bound); baseline: the old "json" prompted format's yield on
  the check set.

    PYTHONPATH=. python bench/quality.py            # fixture figures + round-trip + a fresh run (minutes on a CPU)
    PYTHONPATH=. python bench/quality.py --quick    # fixture figures without a model (no round-trip)
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


# The check set's CoI records were made from this library; their slimmed meta has no task_sources,
# which a run's records carry, so the chain checks are told the file (filters/chain_form.py).
COI_LIBRARY = os.path.join(HERE, "..", "examples", "tasks", "coi_tasks.yaml")


def gate(record: dict, with_task_form: bool = True) -> str | None:
    from filters.rules import RulesConfig
    from filters.scan import rule_verdict
    from filters.task_form import TaskFormConfig, task_form_verdict

    verdict = rule_verdict(record, RulesConfig())
    if verdict is None and with_task_form:
        verdict = task_form_verdict(record, TaskFormConfig(enabled=True, chain={"library": [COI_LIBRARY]}))
    if verdict is None and with_task_form and record["id"] in COLLAPSED:
        return "label_collapse"
    return None if verdict is None else verdict[0]


COLLAPSED: set[str] = set()  # ids in a collapsed label group (filters/label_collapse.py), set by find_collapsed


def find_collapsed(records: list[dict]) -> set[str]:
    """Ids of the records (passing the per-record gate) in a collapsed label group, grouped per generator
    as a run would group them (the check set holds several runs: bonito-fields, self_guide-s7, ...)."""
    import yaml

    from filters.label_collapse import LabelCollapseConfig, collapsed, label_of

    # The check set's slimmed Self-Guide meta predates keeping `target_label`; a classification
    # task's records (the task file names its labels) carry one in a run.
    with open(os.path.join(HERE, "..", "examples", "tasks", "self_guide_tasks.yaml"), encoding="utf-8") as f:
        tasks = yaml.safe_load(f)
    classification = {t["name"] for t in (tasks.get("tasks", tasks) if isinstance(tasks, dict) else tasks) if t.get("labels")}
    COLLAPSED.clear()
    passed = [r for r in records if gate(r) is None]
    labels = []
    for r in passed:
        meta = dict(r.get("meta") or {})
        if r["method"] == "self_guide" and r["source_id"] in classification:
            meta.setdefault("task", r["source_id"])
            meta.setdefault("target_label", "(not kept in the check set)")
        item = label_of({**r, "meta": meta})
        labels.append(None if item is None else (f"{r['generator']}|{item[0]}", item[1]))
    COLLAPSED.update(passed[i]["id"] for i in collapsed(labels, LabelCollapseConfig()))
    return set(COLLAPSED)


def roundtrip_scores(records: list[dict], engine) -> dict[str, dict]:
    """{id: meta.roundtrip} for every record the round-trip stage checks (threshold-free: scores only)."""
    import time

    from filters.roundtrip import RoundtripConfig, roundtrip_records

    clock = time.perf_counter()
    kept, rejected, stats = roundtrip_records([dict(r) for r in records], engine, RoundtripConfig(enabled=True, threshold=0.0), run_seed=42)
    seconds = time.perf_counter() - clock
    print(f"round-trip: {stats.get('requests', 0)} requests in {seconds:.1f} s for {len(records)} records ({stats})", file=sys.stderr)
    ROUNDTRIP_COST.update(requests=stats.get("requests", 0), seconds=round(seconds, 1), records=len(records))
    return {r["id"]: r["meta"]["roundtrip"] for r in kept + rejected if "score" in (r["meta"].get("roundtrip") or {})}


ROUNDTRIP_COST: dict = {}


def verdict(record: dict, rt: dict[str, dict] | None, threshold: float, with_task_form: bool = True) -> str | None:
    """The gate's reason, then the round-trip's (labels must match; free answers need F1 >= threshold)."""
    reason = gate(record, with_task_form)
    if reason is not None or not rt or record["id"] not in rt:
        return reason
    check = rt[record["id"]]
    agree = check["score"] >= threshold if check["kind"] == "text" else check["score"] == 1.0
    return None if agree else "roundtrip_disagree"


def scores(records: list[dict], with_task_form: bool = True, rt: dict | None = None, threshold: float = 0.3) -> dict[str, float]:
    reasons = {r["id"]: verdict(r, rt, threshold, with_task_form) for r in records}
    kept = [r for r in records if reasons[r["id"]] is None]
    junk = [r for r in records if not r["label"]["usable"]]
    caught = [r for r in junk if reasons[r["id"]] is not None]
    return {
        "precision": sum(r["label"]["usable"] for r in kept) / len(kept) if kept else 0.0,
        "recall": len(caught) / len(junk) if junk else 1.0,
        "kept": len(kept),
        "usable_kept": sum(r["label"]["usable"] for r in kept),
        "records": len(records),
    }


def choose_threshold(records: list[dict], rt: dict) -> float:
    """The F1 threshold with the best harmonic mean of keep precision and junk recall on `records`."""
    best, best_t = -1.0, 0.3
    for t in [i / 20 for i in range(1, 20)]:
        part = scores(records, rt=rt, threshold=t)
        harmonic = 2 * part["precision"] * part["recall"] / (part["precision"] + part["recall"] or 1)
        if harmonic > best + 1e-9:
            best, best_t = harmonic, t
    return best_t


def emit(metric: str, value: float, unit: str, baseline: str, goal: str, **extra) -> None:
    print(json.dumps({"metric": metric, "value": round(value, 4), "unit": unit, "baseline": baseline, "goal": goal, **extra}))


def judged_scores(records: list[dict], engine, rt: dict | None, threshold: float) -> dict[str, float]:
    """Gate (and round-trip), then the LLM judge (filters/judge.py) on what they keep, `engine` judging."""
    from filters.judge import JudgeConfig, judge_records

    kept = [dict(r, meta=dict(r["meta"])) for r in records if verdict(r, rt, threshold) is None]
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


def fresh_yield(records: list[dict], engine, threshold: float) -> tuple[float, dict]:
    """Run the packaged model on the check set's passages in the fields format, then the gate and the
    round-trip check; usable kept / candidates (records matched to labels by id and output)."""
    sys.path.insert(0, CHECKSET)
    from make_checkset import generators, package_docs, pydoc_docs, slim  # noqa: E402

    labelled = {(r["id"], r["output"]): r["label"]["usable"] for r in records}
    docs = pydoc_docs(14, seed=7) + package_docs(6)
    name, gen = generators(20)[0]
    candidates, rows = 0, []
    for shard in gen.plan_shards(docs):
        out = gen.run_shard(shard, engine)
        candidates += len(out.kept) + len(out.rejects)
        rows += [slim(record, name) for record in out.kept]
    checkset_collapsed = set(COLLAPSED)
    find_collapsed(rows)  # the fresh run is one run: its label groups are its own
    after_gate = [row for row in rows if gate(row) is None]
    rt = roundtrip_scores(after_gate, engine)
    kept = [row for row in after_gate if verdict(row, rt, threshold) is None]
    COLLAPSED.clear()
    COLLAPSED.update(checkset_collapsed)
    labels = [labelled.get((row["id"], row["output"])) for row in kept]
    usable = sum(bool(label) for label in labels)
    detail = {
        "candidates": candidates, "after_gate": len(after_gate), "kept": len(kept), "usable_kept": usable,
        "unlabelled_kept": sum(label is None for label in labels), "roundtrip_threshold": threshold,
    }  # fmt: skip
    return (usable / candidates if candidates else 0.0), detail


def per_generator(records: list[dict], rt: dict | None, threshold: float, base: str) -> None:
    for name in sorted({r["generator"] for r in records}):
        part = [r for r in records if r["generator"] == name]
        got = scores(part, rt=rt, threshold=threshold)
        extra = {"generator": name, "kept": got["kept"], "usable_kept": got["usable_kept"], "records": got["records"]}
        emit("gate_keep_precision", got["precision"], "share", base, ">= 0.9", **extra)
        junk = sum(not r["label"]["usable"] for r in part)
        emit("gate_junk_recall", got["recall"], "share", base, ">= 0.9", generator=name, junk=junk)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="no model: the gate without the round-trip check, no fresh run")
    parser.add_argument("--no-judge", action="store_true", help="skip the optional judge figures")
    parser.add_argument("--dump", default=None, help="write each record's verdict and round-trip answer here (JSONL), to read them")
    args = parser.parse_args()
    engine = None if args.quick else start_engine()
    records = load_checkset()
    kinds = Counter(r["label"]["kind"] for r in records if not r["label"]["usable"])
    print(f"check set: {len(records)} records, {sum(r['label']['usable'] for r in records)} usable; unusable kinds {dict(kinds)}", file=sys.stderr)
    print(f"per generator: {dict(Counter(r['generator'] for r in records))}", file=sys.stderr)
    find_collapsed(records)
    no_rt = scores(records)
    base = f"gate without round-trip: precision {no_rt['precision']:.3f}, recall {no_rt['recall']:.3f}"
    rt, threshold = None, 0.0
    if engine is not None:
        rt = roundtrip_scores(records, engine)
        threshold = choose_threshold([r for r in records if half(r) == "tune"], rt)
        print(f"round-trip F1 threshold chosen on the tune half: {threshold}", file=sys.stderr)
    full = scores(records, rt=rt, threshold=threshold)
    emit("gate_keep_precision", full["precision"], "share", base, ">= 0.9", kept=full["kept"], records=full["records"], roundtrip_threshold=threshold)
    emit("gate_junk_recall", full["recall"], "share", base, ">= 0.9", roundtrip_threshold=threshold)
    for split in ("tune", "holdout"):
        part = [r for r in records if half(r) == split]
        got, without = scores(part, rt=rt, threshold=threshold), scores(part)
        split_base = f"gate without round-trip: precision {without['precision']:.3f}, recall {without['recall']:.3f}"
        emit(f"gate_keep_precision_{split}", got["precision"], "share", split_base, ">= 0.9", kept=got["kept"], records=got["records"])
        emit(f"gate_junk_recall_{split}", got["recall"], "share", split_base, ">= 0.9")
    per_generator(records, rt, threshold, base)
    reasons = {r["id"]: verdict(r, rt, threshold) for r in records}
    if args.dump:
        with open(args.dump, "w", encoding="utf-8") as f:
            for r in records:
                row = {"id": r["id"], "generator": r["generator"], "label": r["label"]["kind"], "verdict": reasons[r["id"]]}
                row.update(roundtrip=(rt or {}).get(r["id"]), question=r["instruction"][-300:], answer=r["output"][:300])
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
    missed = Counter(r["label"]["kind"] for r in records if not r["label"]["usable"] and reasons[r["id"]] is None)
    wrongly = Counter(reasons[r["id"]] for r in records if r["label"]["usable"] and reasons[r["id"]] is not None)
    print(f"junk let through by kind: {dict(missed)}; usable rejected by reason: {dict(wrongly)}", file=sys.stderr)
    with open(os.path.join(CHECKSET, "checkset_funnel.json"), encoding="utf-8") as f:
        funnel = json.load(f)
    old = [r for r in records if r["generator"] == "bonito-json"]  # the whole-pair JSON prompt before issue 10
    old_yield = sum(r["label"]["usable"] and gate(r) is None for r in old) / funnel["bonito-json"]["candidates"]
    if args.quick:
        return
    emit("roundtrip_cost_requests_per_record", ROUNDTRIP_COST["requests"] / ROUNDTRIP_COST["records"], "requests", "none (new stage)", "report", **ROUNDTRIP_COST)
    value, detail = fresh_yield(records, engine, threshold)
    emit("bonito_usable_yield", value, "usable kept / candidates", f"old json prompted format on the check set: {old_yield:.3f}", "report", **detail)
    if args.no_judge:
        return
    # The same figures with the optional judge after the gate and round-trip, the packaged model judging.
    judged = judged_scores(records, engine, rt, threshold)
    base = f"gate alone: precision {full['precision']:.3f}, recall {full['recall']:.3f}"
    emit("gate_judge_keep_precision", judged["precision"], "share", base, ">= 0.9", kept=judged["kept"], judge=engine.model_name)
    emit("gate_judge_junk_recall", judged["recall"], "share", base, ">= 0.9", judge=engine.model_name)


if __name__ == "__main__":
    main()
