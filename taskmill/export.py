"""Export: the final records as Parquet, trainer formats, a `datasets` dir and a card.

    export/records.parquet         full records (lineage, meta) — the canonical form
    export/<format>.jsonl          one file per configured trainer format
    export/hf/                     `datasets.DatasetDict.save_to_disk` of the first format
    export/mixture.json            task, available, chosen, weight
    export/README.md               dataset card (what, how, counts, funnel, mixture)
    export/dataset_info.json       LLaMA-Factory: one entry per exported file (all columns mapped)
    export/axolotl_<entry>.yaml    axolotl `datasets:` snippet per exported file

Before writing, `exportable` moves records no trainer format can hold
(non-string content, broken turns, ...) and, with `export.max_tokens`, records
longer than that many chat-template tokens (`too_long`) to the rejects.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from filters.gate_report import render_quality_markdown
from taskmill.records import reject, to_table


def token_counter_for(export_cfg, engine_name: str | None):
    """The TokenCounter export uses: export.tokenizer, else the run's model, else SmolLM2's."""
    from selection.lengths import token_counter

    if export_cfg.tokenizer:
        return token_counter(export_cfg.tokenizer, strict=True)
    return token_counter(engine_name)


def exportable(records: list[dict], max_tokens: int | None, counter) -> tuple[list[dict], list[dict], np.ndarray]:
    """(kept records, rejects with reasons, chat-template token counts of the kept records).

    Rejects: the reasons of `selection.formats.split_valid`, and `too_long`
    (detail: tokens, max_tokens, tokenizer) for a conversation over `max_tokens`.
    """
    from selection.formats import record_to_messages, split_valid

    kept, rejected = split_valid(records)
    counts = counter.count([record_to_messages(r)["messages"] for r in kept])
    over = np.flatnonzero(counts > max_tokens) if max_tokens is not None else np.zeros(0, dtype=np.int64)
    if len(over):
        drop = set(over.tolist())
        rejected += [
            reject(kept[i], "too_long", "export", tokens=int(counts[i]), max_tokens=max_tokens, tokenizer=counter.name)
            for i in over
        ]
        keep = [i for i in range(len(kept)) if i not in drop]
        kept, counts = [kept[i] for i in keep], counts[keep]
    return kept, rejected, counts


def export_records(
    out_dir: str,
    records: list[dict],
    *,
    formats: list[str],
    dataset_name: str,
    hf_dataset: bool,
    mixture_table: list[dict],
    summary: dict[str, Any],
    token_counts: np.ndarray | None = None,
    tokenizer: str = "",
) -> dict[str, str]:
    """Write every export artifact; returns {artifact name: path}.

    `token_counts` (aligned with `records`, from `exportable`) give the length
    percentiles per format, stored in summary["token_lengths"] and the card.
    """
    from selection import formats as trainer_formats
    from selection.lengths import percentiles

    os.makedirs(out_dir, exist_ok=True)
    paths: dict[str, str] = {}
    paths["records"] = os.path.join(out_dir, "records.parquet")
    pq.write_table(to_table(records), paths["records"] + ".tmp")
    os.replace(paths["records"] + ".tmp", paths["records"])

    rows_by_format = {fmt: trainer_formats.to_format(records, fmt) for fmt in formats}
    for fmt, rows in rows_by_format.items():
        paths[fmt] = str(trainer_formats.write_jsonl(rows, os.path.join(out_dir, f"{fmt}.jsonl")))
        # every file is registered, with every column its rows have (system, history, ...)
        columns = {key for row in rows for key in row}
        trainer_formats.write_trainer_configs(out_dir, entry_name(dataset_name, fmt, formats), fmt, f"{fmt}.jsonl", columns)
    if token_counts is not None:
        # every format holds the same conversations row for row (to_format keeps order and count),
        # so each format's figures are those of the records' conversations
        figures = percentiles(token_counts)
        summary["token_lengths"] = {"tokenizer": tokenizer, "formats": {fmt: dict(figures) for fmt in rows_by_format}}

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


def entry_name(dataset_name: str, fmt: str, formats: list[str]) -> str:
    """The trainer-config entry of a format's file: the dataset name for the first format, `<name>_<fmt>` for others."""
    return dataset_name if fmt == formats[0] else f"{dataset_name}_{fmt}"


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
        "".join(f"- `{fmt}.jsonl`: {fmt} format (trainer-config entry `{entry_name(name, fmt, formats)}`)\n" for fmt in formats)
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
        "## Token lengths\n",
        _lengths_section(summary.get("token_lengths")),
        "## Generation\n",
        f"Tokens generated: {summary.get('completion_tokens', 0)}; engine throughput: {summary.get('tokens_per_s', 0)} tokens/s.\n",
    ]
    return header + "\n".join(body)


def _lengths_section(lengths: dict | None) -> str:
    if not lengths:
        return "_not measured_\n"
    rows = [{"format": fmt, **figures} for fmt, figures in lengths["formats"].items()]
    return (
        f"Tokens per record: the whole conversation under the chat template of {lengths['tokenizer']} "
        "(TRL's SFTTrainer truncates at max_length, 1024 by default).\n\n"
        + _table(rows, ["format", "records", "p50", "p90", "p99", "max"])
    )
