"""Per-generator quality funnel for the run summary, artifacts and dataset card (issue 10).

Records carry their method, not their generator's stage name, so each
generator's records are recognised by id: its `generated/<name>` ids. Only
the id, reason and stage columns are read for counting; sample records are
the first few rows of each kind.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from flows.generate import generated_stage, rejects_stage
from taskmill.store import RunStore

GATE_STAGES = {"rules", "task_form"}
SAMPLES = 3


def _columns(store: RunStore, stage: str, names: list[str]) -> list[dict]:
    rows: list[dict] = []
    for table in store.iter_shards(stage, columns=names):
        rows += table.to_pylist()
    return rows


def _sample(row: dict, reason: str | None = None) -> dict:
    out = {"id": row["id"], "instruction": row.get("instruction") or "", "output": row.get("output") or ""}
    if reason:
        out["reason"] = reason
    return out


def quality_by_generator(store: RunStore, names: list[str], judged: bool = False, roundtrip: bool = False) -> dict[str, Any]:
    """{generator: {candidates, parsed, after_gate, curated, roundtrip?, judged?, selected,
    rejects: {stage: {reason: n}}, samples_kept, samples_rejected}}."""
    owner: dict[str, str] = {}
    quality: dict[str, Any] = {}
    for name in names:
        ids = _columns(store, generated_stage(name), ["id"])
        owner.update((row["id"], name) for row in ids)
        generator_rejects = _columns(store, rejects_stage(name), ["reject_reason"])
        quality[name] = {
            "candidates": len(ids) + len(generator_rejects),
            "parsed": len(ids),
            "rejects": {"generator": dict(Counter(r["reject_reason"] for r in generator_rejects))},
        }
    text = ["id", "instruction", "output", "reject_reason", "reject_stage"]
    by_stage: dict[str, dict[str, Counter]] = defaultdict(lambda: defaultdict(Counter))
    rejected_samples: dict[str, dict[str, dict]] = defaultdict(dict)  # one sample per reason, first seen
    for stage_dir in ("rejects/curation", "rejects/roundtrip", "rejects/judge"):
        for row in _columns(store, stage_dir, text):
            name = owner.get(row["id"])
            if name is None:
                continue
            group = "gate" if row["reject_stage"] in GATE_STAGES else stage_dir.removeprefix("rejects/").replace("curation", "dedup")
            by_stage[name][group][row["reject_reason"]] += 1
            if group in ("gate", "roundtrip", "judge"):
                rejected_samples[name].setdefault(row["reject_reason"], _sample(row, row["reject_reason"]))
    stages = ["curated"] + ["roundtrip"] * roundtrip + ["judged"] * judged + ["selected"]
    kept_stage = stages[-2]
    counts: dict[str, Counter] = {stage: Counter() for stage in stages}
    kept_samples: dict[str, list[dict]] = defaultdict(list)
    for stage in stages:
        for row in _columns(store, stage, text if stage == kept_stage else ["id"]):
            name = owner.get(row["id"])
            if name is None:
                continue
            counts[stage][name] += 1
            if stage == kept_stage and len(kept_samples[name]) < SAMPLES:
                kept_samples[name].append(_sample(row))
    for name, row in quality.items():
        gate = by_stage[name]["gate"]
        row["after_gate"] = row["parsed"] - sum(gate.values())
        row["curated"] = counts["curated"][name]
        for stage in stages[1:-1]:
            row[stage] = counts[stage][name]
        row["selected"] = counts["selected"][name]
        row["rejects"].update({group: dict(reasons) for group, reasons in by_stage[name].items() if reasons})
        row["samples_kept"] = kept_samples[name]
        row["samples_rejected"] = list(rejected_samples[name].values())[:SAMPLES]
    return quality


def gate_table_rows(quality: dict[str, Any]) -> list[dict]:
    """Flat rows for a Prefect table artifact: generator, stage, reason, records."""
    rows = [
        {"generator": name, "stage": stage, "reason": reason, "records": n}
        for name, row in quality.items()
        for stage, reasons in row["rejects"].items()
        for reason, n in reasons.items()
    ]
    return rows or [{"generator": "-", "stage": "-", "reason": "-", "records": 0}]


__all__ = ["gate_table_rows", "quality_by_generator"]
