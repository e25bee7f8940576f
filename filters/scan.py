"""The per-batch work of curation's first pass, run on the executor (local or Ray).

`scan_batch` is a top-level function of picklable arguments so Ray can ship
it: it applies the rule filters to one batch and, for the records that
pass, computes what the global dedup stages need (sha256 exact keys and
MinHash band keys). The decisions themselves are global and made by the driver.
"""

from __future__ import annotations

import json

from collections import Counter
from typing import Any

import numpy as np
import pyarrow as pa

from filters.exact import ExactConfig, exact_digest
from filters.minhash import MinHashConfig, minhash_text, record_band_keys, source_salt
from filters.rules import RulesConfig, check_record
from filters.label_collapse import label_of
from filters.task_form import STAGE as TASK_FORM_STAGE
from filters.task_form import TaskFormConfig, task_form_verdict
from taskmill.records import SCHEMA, from_table, reject, to_table

RULES_STAGE = "rules"
VIEW_COLUMNS = ("id", "method", "instruction", "input", "output", "finish_reason", "messages")


def rule_verdict(record: dict, cfg: RulesConfig) -> tuple[str, dict[str, Any]] | None:
    """The first failing rule as (reason, detail), or None to keep. Never raises."""
    try:
        failures = check_record(record, cfg)
    except Exception as err:  # a rule must not take the run down on one odd record
        return "filter_error", {"error": type(err).__name__, "message": str(err)[:200]}
    if not failures:
        return None
    reason, detail = failures[0]
    if cfg.all_reasons and len(failures) > 1:
        detail = {**detail, "all_reasons": [r for r, _ in failures]}
    return reason, detail


def scan_batch(
    table: pa.Table, rules: RulesConfig, exact: ExactConfig, minhash: MinHashConfig, task_form: TaskFormConfig | None = None
) -> dict[str, Any]:
    """Rule-filter one batch; return its rejects and the dedup keys of the survivors.

    Records that pass the rules then go through the task-form checks (when on);
    their rejects have reject_stage "task_form" and are counted in "task_form_reasons".
    Returns {"rejects": table, "reasons": {reason: count}, "keep_rows": int64 row
    numbers, "digests": (k, 32) uint8, "bands": (k, bands) uint64, "labels": k
    (group, label) pairs or None (filters/label_collapse.py; all None without the gate)}.
    """
    # only the columns the rules read: decoding every record's JSON meta would double the cost
    records = table.select([c for c in VIEW_COLUMNS if c in table.column_names]).to_pylist()
    keep_rows, failed, reasons = [], [], Counter()
    for row, record in enumerate(records):
        verdict = rule_verdict(record, rules) if rules.enabled else None
        if verdict is None:
            keep_rows.append(row)
        else:
            failed.append((row, verdict))
            reasons[verdict[0]] += 1
    gate_failed, gate_reasons = [], Counter()
    labels: list[tuple[str, str] | None] = []
    if task_form is not None and task_form.enabled and keep_rows:
        # the checks read meta (task type, passage, fields): decode it for the survivors only
        metas = table.column("meta").take(keep_rows).to_pylist()
        models = table.column("model").take(keep_rows).to_pylist()  # label collapse groups by model
        passed = []
        for row, meta, model in zip(keep_rows, metas, models):
            record = {**records[row], "meta": json.loads(meta or "{}"), "model": model}
            verdict = task_form_verdict(record, task_form)
            if verdict is None:
                passed.append(row)
                labels.append(label_of(record) if task_form.label_collapse.enabled else None)
            else:
                gate_failed.append((row, verdict))
                gate_reasons[verdict[0]] += 1
        keep_rows = passed
    rejects = []
    for stage, failures in ((RULES_STAGE, failed), (TASK_FORM_STAGE, gate_failed)):
        if failures:
            full = from_table(table.take([row for row, _ in failures]))
            rejects += [reject(record, reason, stage, **detail) for record, (_, (reason, detail)) in zip(full, failures)]
    kept = [records[row] for row in keep_rows]
    digests = np.zeros((len(kept), 32), dtype=np.uint8)
    if exact.enabled and kept:
        digests = np.frombuffer(b"".join(exact_digest(r, exact.mode) for r in kept), dtype=np.uint8).reshape(-1, 32)
    bands = np.zeros((len(kept), minhash.band_rows()[0] if minhash.enabled else 0), dtype=np.uint64)
    if minhash.enabled and kept:
        if minhash.grounded_methods:  # their passage sits in meta: decode it for those rows only
            metas, sources = table.column("meta"), table.column("source_id")
            for row, record in zip(keep_rows, kept):
                if record.get("method") in minhash.grounded_methods:
                    record["meta"] = json.loads(metas[row].as_py() or "{}")
                    record["source_id"] = sources[row].as_py()
        bands = record_band_keys([minhash_text(r, minhash) for r in kept], minhash, source_salt(kept, minhash))
    return {
        "rejects": to_table(rejects) if rejects else SCHEMA.empty_table(),
        "reasons": dict(reasons),
        "task_form_reasons": dict(gate_reasons),
        "keep_rows": np.asarray(keep_rows, dtype=np.int64),
        "digests": digests,
        "bands": bands,
        "labels": labels or [None] * len(keep_rows),
    }
