"""Export: the final records as Parquet, trainer formats, a `datasets` dir and a card.

    export/records.parquet         full records (lineage, meta) — the canonical form
    export/<format>.jsonl          one file per configured trainer format
    export/hf/                     `datasets.DatasetDict.save_to_disk` of the first format
    export/mixture.json            task, available, chosen, weight
    export/README.md               dataset card (what, how, counts, funnel, mixture)
    export/dataset_info.json, export/axolotl.yaml   trainer registration snippets
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

import pyarrow.parquet as pq

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
    resolved_config: dict[str, Any] | None = None,
) -> dict[str, str]:
    """Write every export artifact; returns {artifact name: path}.

    Written into a temporary sibling directory that replaces `out_dir` only when
    complete (a crash or a full disk never leaves a half-written export).
    """
    from taskmill.store import staged_directory

    with staged_directory(out_dir) as staging:
        paths = _write_all(staging, records, formats, dataset_name, hf_dataset, mixture_table, summary, resolved_config)
    return {name: os.path.join(out_dir, os.path.relpath(path, staging)) for name, path in paths.items()}


def _write_all(out_dir, records, formats, dataset_name, hf_dataset, mixture_table, summary, resolved_config) -> dict[str, str]:
    from selection import formats as trainer_formats

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


def dataset_card(
    name: str, records: list[dict], formats: list[str], mixture: list[dict], summary: dict[str, Any], resolved_config: dict[str, Any] | None = None
) -> str:
    """The export directory's dataset card (see taskmill/card.py)."""
    from taskmill.card import render_card

    export = (resolved_config or {}).get("export", {})
    return render_card(
        name, records, formats, mixture, summary,
        resolved_config=resolved_config, license=export.get("license", "other"), language=export.get("language", ["en"]),
    )
