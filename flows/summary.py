"""The run summary: records per stage, rejects by reason, tokens, tokens/s.

Computed from what is on disk, so a resumed run reports the whole dataset,
not just the shards it ran this time. Printed and published as Prefect
artifacts (a markdown report and a table of reject reasons).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pyarrow.compute as pc

from filters.gate_report import render_quality_markdown, render_quality_text
from flows.generate import generated_stage, rejects_stage
from flows.quality import quality_by_generator
from taskmill.store import RunStore


def _stage_totals(store: RunStore, stage: str) -> dict[str, Any]:
    """Rows, reject reasons and token sums of a stage, reading each shard once."""
    totals: dict[str, Any] = {"rows": 0, "reasons": Counter(), "prompt_tokens": 0, "completion_tokens": 0}
    for table in store.iter_shards(stage, columns=["reject_reason", "prompt_tokens", "completion_tokens"]):
        if not table.num_rows:
            continue
        totals["rows"] += table.num_rows
        for row in pc.value_counts(table["reject_reason"]).to_pylist():
            # "(none)" in a rejects stage would be a reject without its reason: shown, not hidden
            totals["reasons"][row["values"] or "(none)"] += row["counts"]
        for column in ("prompt_tokens", "completion_tokens"):
            totals[column] += pc.sum(table[column]).as_py() or 0
    totals["reasons"] = dict(sorted(totals["reasons"].items()))
    return totals


def build_summary(
    store: RunStore, run_id: str, names: list[str], generation_reports: list[dict], judged: bool = False,
    roundtrip: bool = False,
) -> dict[str, Any]:
    per_stage: dict[str, int] = {}
    rejects: dict[str, dict[str, int]] = {}
    completion_tokens = prompt_tokens = 0
    for name in names:
        kept, dropped = _stage_totals(store, generated_stage(name)), _stage_totals(store, rejects_stage(name))
        per_stage[f"generated/{name}"] = kept["rows"]
        rejects[f"generate-{name}"] = dropped["reasons"]
        completion_tokens += kept["completion_tokens"] + dropped["completion_tokens"]
        prompt_tokens += kept["prompt_tokens"] + dropped["prompt_tokens"]
    per_stage["curated"] = _stage_totals(store, "curated")["rows"]
    rejects["curation"] = _stage_totals(store, "rejects/curation")["reasons"]
    if roundtrip:
        per_stage["roundtrip"] = _stage_totals(store, "roundtrip")["rows"]
        rejects["roundtrip"] = _stage_totals(store, "rejects/roundtrip")["reasons"]
    if judged:
        per_stage["judged"] = _stage_totals(store, "judged")["rows"]
        rejects["judge"] = _stage_totals(store, "rejects/judge")["reasons"]
    per_stage["selected"] = _stage_totals(store, "selected")["rows"]
    engine_tokens = sum(r.get("completion_tokens", 0) for r in generation_reports)
    engine_seconds = sum(r.get("engine_seconds", 0.0) for r in generation_reports)
    return {
        "run_id": run_id,
        "run_dir": store.root,
        "records_per_stage": per_stage,
        "rejects": rejects,
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        # tokens/s of the generation done in this run (a fully resumed run did none)
        "tokens_per_s": round(engine_tokens / engine_seconds, 1) if engine_seconds else 0.0,
        "generation": generation_reports,
        # per generator: candidates → kept after the gate → ..., rejects by reason, sample records
        "quality": quality_by_generator(store, names, judged, roundtrip),
    }


def render_markdown(summary: dict[str, Any]) -> str:
    lines = [f"# taskmill run `{summary['run_id']}`", "", "| stage | records |", "|---|---|"]
    lines += [f"| {stage} | {n} |" for stage, n in summary["records_per_stage"].items()]
    lines += ["", "| rejected at | reason | records |", "|---|---|---|"]
    for stage, reasons in summary["rejects"].items():
        lines += [f"| {stage} | {reason} | {n} |" for reason, n in reasons.items()]
    if summary.get("quality"):
        lines += ["", "## Quality gate per generator", "", render_quality_markdown(summary["quality"])]
    lines += [
        "",
        f"Tokens: {summary['prompt_tokens']} prompt, {summary['completion_tokens']} completion; "
        f"generation throughput this run: {summary['tokens_per_s']} tokens/s.",
        f"Run directory: `{summary['run_dir']}`",
    ]
    lengths = summary.get("token_lengths")
    if lengths:  # chat-template tokens per exported record, per format
        lines += ["", f"Token lengths ({lengths['tokenizer']}):", "", "| format | records | p50 | p90 | p99 | max |", "|---|---|---|---|---|---|"]
        lines += [f"| {fmt} | {f['records']} | {f['p50']} | {f['p90']} | {f['p99']} | {f['max']} |" for fmt, f in lengths["formats"].items()]
    return "\n".join(lines)


def render_text(summary: dict[str, Any], compact: bool = False) -> str:
    """The end-of-run text; `compact` leaves out the records and rejects per stage (the stage lines had them)."""
    out = [f"taskmill run {summary['run_id']}  ({summary['run_dir']})"]
    if compact:
        out.append(f"  rejects by reason: taskmill inspect {summary['run_dir']}")
    else:
        out += [f"  {stage:<28} {n:>8} records" for stage, n in summary["records_per_stage"].items()]
        for stage, reasons in summary["rejects"].items():
            for reason, n in reasons.items():
                out.append(f"  rejected at {stage:<17} {reason:<22} {n:>6}")
    out += render_quality_text(summary.get("quality", {}))
    out.append(
        f"  tokens: {summary['prompt_tokens']} prompt / {summary['completion_tokens']} completion;"
        f" {summary['tokens_per_s']} tokens/s this run"
    )
    for fmt, f in (summary.get("token_lengths") or {}).get("formats", {}).items():
        out.append(f"  tokens per {fmt + ' record':<24} p50 {f['p50']}  p90 {f['p90']}  p99 {f['p99']}  max {f['max']}")
    # Warnings last, where the eye lands when the run ends (empty sources, ...).
    out += [f"  warning: {w}" for w in summary.get("warnings", [])]
    return "\n".join(out)
