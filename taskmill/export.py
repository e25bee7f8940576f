"""Export: the final records as Parquet, trainer formats, a `datasets` dir and a card.

    export/records.parquet         full records (lineage, meta) — the canonical form
    export/<format>.jsonl          one file per configured trainer format
    export/hf/                     `datasets.DatasetDict.save_to_disk` of the first format
    export/mixture.json            task, available, chosen, weight
    export/README.md               dataset card (what, how, counts, funnel, mixture)
    export/dataset_info.json, export/axolotl.yaml   trainer registration snippets
"""

from __future__ import annotations

import json
import os
from typing import Any

import pyarrow.parquet as pq

from filters.gate_report import render_quality_markdown
from taskmill.records import to_table


def export_records(
    out_dir: str,
    records: list[dict],
    *,
    formats: list[str],
    dataset_name: str,
    hf_dataset: bool,
    mixture_table: list[dict],
    summary: dict[str, Any],
) -> dict[str, str]:
    """Write every export artifact; returns {artifact name: path}."""
    from selection import formats as trainer_formats

    os.makedirs(out_dir, exist_ok=True)
    paths: dict[str, str] = {}
    paths["records"] = os.path.join(out_dir, "records.parquet")
    pq.write_table(to_table(records), paths["records"] + ".tmp")
    os.replace(paths["records"] + ".tmp", paths["records"])

    rows_by_format = {fmt: trainer_formats.to_format(records, fmt) for fmt in formats}
    for fmt, rows in rows_by_format.items():
        paths[fmt] = str(trainer_formats.write_jsonl(rows, os.path.join(out_dir, f"{fmt}.jsonl")))
    trainer_formats.write_trainer_configs(out_dir, dataset_name, formats[0], os.path.basename(paths[formats[0]]))

    if hf_dataset:
        import datasets

        rows = rows_by_format[formats[0]]  # the datasets dir holds the first format
        dataset = datasets.Dataset.from_list(rows) if rows else datasets.Dataset.from_dict({})
        paths["hf"] = os.path.join(out_dir, "hf")
        datasets.DatasetDict({"train": dataset}).save_to_disk(paths["hf"])

    paths["mixture"] = os.path.join(out_dir, "mixture.json")
    with open(paths["mixture"], "w", encoding="utf-8") as f:
        json.dump(mixture_table, f, indent=2)
    paths["card"] = os.path.join(out_dir, "README.md")
    with open(paths["card"], "w", encoding="utf-8") as f:
        f.write(dataset_card(dataset_name, records, formats, mixture_table, summary))
    return paths


def _size_category(n: int) -> str:
    for limit, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if n < limit:
            return label
    return "n>1M"


def _table(rows: list[dict], columns: list[str]) -> str:
    if not rows:
        return "_none_\n"
    head = "| " + " | ".join(columns) + " |\n|" + "---|" * len(columns) + "\n"
    return head + "".join("| " + " | ".join(str(r.get(c, "")) for c in columns) + " |\n" for r in rows)


def dataset_card(name: str, records: list[dict], formats: list[str], mixture: list[dict], summary: dict[str, Any]) -> str:
    methods = sorted({r["method"] for r in records})
    models = sorted({r["model"] for r in records})
    funnel = [{"stage": s, "reason": reason, "count": n} for s, reasons in summary.get("rejects", {}).items() for reason, n in sorted(reasons.items())]
    stages = [{"stage": s, "records": n} for s, n in summary.get("records_per_stage", {}).items()]
    header = (
        "---\n"
        f"pretty_name: {name}\n"
        "task_categories:\n- text-generation\n"
        "tags:\n- instruction-tuning\n- synthetic\n- taskmill\n"
        f"size_categories:\n- {_size_category(len(records))}\n"
        "configs:\n- config_name: default\n  data_files:\n"
        f"  - split: train\n    path: {formats[0]}.jsonl\n"
        "---\n\n"
    )
    body = [
        f"# {name}\n",
        f"Instruction-tuning data made by taskmill (run `{summary.get('run_id', '')}`): "
        f"{len(records)} records from the methods {', '.join(methods) or '-'}, generated with {', '.join(models) or '-'}.\n",
        "## Files\n",
        "".join(f"- `{fmt}.jsonl`: {fmt} format\n" for fmt in formats)
        + "- `records.parquet`: full records with lineage (method, source, parents, model, sampling, seed) and meta\n"
        + "- `hf/`: a `datasets` directory (`datasets.load_from_disk`)\n",
        "## Records per stage\n",
        _table(stages, ["stage", "records"]),
        "## Rejected records by reason\n",
        "Rejected records are kept in the run's `rejects/` datasets with their reason.\n\n" + _table(funnel, ["stage", "reason", "count"]),
        "## Quality gate\n",
        "Per generator: candidates → parsed by the generator → kept after the gate (rule filters and task-form "
        "checks) → after dedup → selected; rejects by stage and reason; a few kept and rejected records.\n\n"
        + render_quality_markdown(summary.get("quality", {})),
        "## Mixture\n",
        _table(mixture, ["task", "available", "chosen", "weight"]),
        "## Diversity per task\n",
        "Compression ratio (higher = more redundant) and n-gram diversity (sum over n = 1..5 of unique/total n-grams).\n\n"
        + _table([{**d, "cr": round(d["cr"], 3), "ngd": round(d["ngd"], 3)} for d in summary.get("diversity", [])], ["task", "count", "cr", "ngd"]),
        "## Generation\n",
        f"Tokens generated: {summary.get('completion_tokens', 0)}; engine throughput: {summary.get('tokens_per_s', 0)} tokens/s.\n",
    ]
    return header + "\n".join(body)
