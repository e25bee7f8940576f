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

import hashlib
import json
import os
from typing import Any

import numpy as np
import pyarrow.parquet as pq

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
    resolved_config: dict[str, Any] | None = None,
) -> dict[str, str]:
    """Write every export artifact; returns {artifact name: path}.

    `token_counts` (aligned with `records`, from `exportable`) give the length
    percentiles per format, stored in summary["token_lengths"] and the card.
    Written into a temporary sibling directory that replaces `out_dir` only when
    complete (a crash or a full disk never leaves a half-written export).
    """
    from taskmill.store import staged_directory

    with staged_directory(out_dir) as staging:
        paths = _write_all(staging, records, formats, dataset_name, hf_dataset, mixture_table, summary,
                           token_counts, tokenizer, resolved_config)  # fmt: skip
    return {name: os.path.join(out_dir, os.path.relpath(path, staging)) for name, path in paths.items()}


def _write_all(out_dir, records, formats, dataset_name, hf_dataset, mixture_table, summary,
               token_counts, tokenizer, resolved_config) -> dict[str, str]:  # fmt: skip
    from selection import formats as trainer_formats
    from selection.lengths import percentiles

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
        # A content fingerprint: the default one hashes functions through dill, whose global-name
        # sets follow Python's per-process hash seed, so state.json would differ run to run.
        with open(paths[formats[0]], "rb") as f:
            fingerprint = hashlib.sha256(f.read()).hexdigest()[:16]
        dataset = datasets.Dataset(dataset.data, info=dataset.info, fingerprint=fingerprint)
        paths["hf"] = os.path.join(out_dir, "hf")
        datasets.DatasetDict({"train": dataset}).save_to_disk(paths["hf"])

    paths["mixture"] = os.path.join(out_dir, "mixture.json")
    with open(paths["mixture"], "w", encoding="utf-8") as f:
        # sorted keys: the table read back from manifest.json on resume must give the same bytes
        json.dump(mixture_table, f, indent=2, sort_keys=True)
    paths["card"] = os.path.join(out_dir, "README.md")
    with open(paths["card"], "w", encoding="utf-8") as f:
        f.write(dataset_card(dataset_name, records, formats, mixture_table, summary, resolved_config))
    return paths


def entry_name(dataset_name: str, fmt: str, formats: list[str]) -> str:
    """The trainer-config entry of a format's file: the dataset name for the first format, `<name>_<fmt>` for others."""
    return dataset_name if fmt == formats[0] else f"{dataset_name}_{fmt}"


def dataset_card(
    name: str, records: list[dict], formats: list[str], mixture: list[dict], summary: dict[str, Any], resolved_config: dict[str, Any] | None = None
) -> str:
    """The export directory's dataset card (see taskmill/card.py)."""
    from taskmill.card import render_card

    export = (resolved_config or {}).get("export", {})
    return render_card(
        name, records, formats, mixture, summary,
        resolved_config=resolved_config, license=export.get("license", "other"), language=export.get("language", ["en"]),
        entry_names={fmt: entry_name(name, fmt, formats) for fmt in formats},
    )
