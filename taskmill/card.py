"""The dataset card (README.md) of an export, locally and on the Hugging Face Hub.

The card is a Hub dataset card: YAML metadata (license, language, task
categories, size category, `configs:` naming the data files of every config,
so `datasets.load_dataset(path_or_repo, config)` finds them) followed by a
markdown body: files, how to load, records per stage, the reject funnel by
reason, the mixture manifest, per-generator model and sampling lineage,
token-length percentiles (when the summary has them), three example records,
the closed-loop evaluation (when `taskmill evaluate` wrote one into the local
card: the Hub card carries it over) and the resolved config with secrets masked.

Everything in the card is a function of the exported data and the config, so
an interrupted-then-resumed run writes the same bytes as an uninterrupted one;
run-dependent figures (throughput, seconds) live in the run's summary.json.
Metadata fields follow https://huggingface.co/docs/hub/datasets-cards.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from typing import Any

import yaml

from filters.gate_report import render_quality_markdown
from taskmill.redact import mask_secrets

EXAMPLE_RECORDS = 3
# `taskmill evaluate` writes its section of the card between these markers (taskmill/evaluate/report.py)
EVALUATION_BEGIN = "<!-- taskmill-evaluate:begin -->"
EVALUATION_END = "<!-- taskmill-evaluate:end -->"


def evaluation_section(card_text: str) -> str | None:
    """The evaluation section of a card, markers included; None when the card has none."""
    start = card_text.find(EVALUATION_BEGIN)
    end = card_text.find(EVALUATION_END, start)
    if start < 0 or end < 0:
        return None
    return card_text[start : end + len(EVALUATION_END)] + "\n"
EXAMPLE_CHARS = 400  # per string field in the examples


def size_category(n: int) -> str:
    """The Hub's `size_categories` label for n records."""
    for limit, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if n < limit:
            return label
    return "1M<n<10M" if n < 10_000_000 else "n>10M"


def local_configs(formats: list[str]) -> list[dict[str, Any]]:
    """`configs:` entries for an export directory: one per trainer format, plus the full records."""
    configs = [
        {"config_name": fmt, "data_files": [{"split": "train", "path": f"{fmt}.jsonl"}], **({"default": True} if i == 0 else {})}
        for i, fmt in enumerate(formats)
    ]
    return configs + [{"config_name": "records", "data_files": [{"split": "train", "path": "records.parquet"}]}]


def card_metadata(name: str, n_records: int, configs: list[dict], license: str, language: list[str]) -> dict[str, Any]:
    return {
        "pretty_name": name,
        "license": license,
        "language": list(language),
        "task_categories": ["text-generation"],
        "tags": ["instruction-tuning", "synthetic", "taskmill"],
        "size_categories": [size_category(n_records)],
        "configs": configs,
    }


def _table(rows: list[dict], columns: list[str]) -> str:
    if not rows:
        return "_none_\n"
    def cell(value: Any) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")
    head = "| " + " | ".join(columns) + " |\n|" + "---|" * len(columns) + "\n"
    return head + "".join("| " + " | ".join(cell(r.get(c, "")) for c in columns) + " |\n" for r in rows)


def _sampling_key(sampling: dict | None) -> str:
    """Sampling settings shared across requests: per-request seeds left out (each record keeps its own),
    a structured-output schema shown by its kind only."""
    if not sampling:
        return "-"
    shown = {k: v for k, v in sampling.items() if k != "seed" and v is not None}
    for key in ("json_schema", "choices", "regex", "grammar"):
        if key in shown:
            shown[key] = "yes"
    return json.dumps(shown, sort_keys=True)


def _lineage(records: list[dict]) -> list[dict]:
    """One row per (method, model): record count and the distinct sampling settings used."""
    groups: dict[tuple[str, str], Counter] = defaultdict(Counter)
    for r in records:
        groups[(r["method"], r["model"])][_sampling_key(r.get("sampling"))] += 1
    rows = []
    for (method, model), samplings in sorted(groups.items()):
        shown = "; ".join(f"`{s}` ({n})" for s, n in sorted(samplings.items(), key=lambda kv: (-kv[1], kv[0]))[:3])
        more = f"; +{len(samplings) - 3} more" if len(samplings) > 3 else ""
        rows.append({"method": method, "model": model, "records": sum(samplings.values()), "sampling": shown + more})
    return rows


def _lengths_section(lengths: dict | None) -> str:
    """Token-length percentiles per format (summary["token_lengths"], written by the export)."""
    if not lengths:
        return ""
    rows = [{"format": fmt, **figures} for fmt, figures in lengths["formats"].items()]
    return (
        "## Token lengths\n\n"
        f"Tokens per record: the whole conversation under the chat template of {lengths['tokenizer']} "
        "(TRL's SFTTrainer truncates at max_length, 1024 by default).\n\n"
        + _table(rows, ["format", "records", "p50", "p90", "p99", "max"])
    )


def _examples(records: list[dict], fmt: str) -> str:
    from selection.formats import to_format

    def clip(value: Any) -> Any:
        if isinstance(value, str) and len(value) > EXAMPLE_CHARS:
            return value[:EXAMPLE_CHARS] + " …"
        if isinstance(value, dict):
            return {k: clip(v) for k, v in value.items()}
        if isinstance(value, list):
            return [clip(v) for v in value]
        return value

    rows = to_format(records[:EXAMPLE_RECORDS], fmt) if records else []
    blocks = [f"```json\n{json.dumps(clip(row), indent=2, ensure_ascii=False)}\n```\n" for row in rows]
    return "".join(blocks) or "_none_\n"


def render_card(
    name: str,
    records: list[dict],
    formats: list[str],
    mixture: list[dict],
    summary: dict[str, Any],
    *,
    configs: list[dict] | None = None,
    resolved_config: dict[str, Any] | None = None,
    license: str = "other",
    language: list[str] | None = None,
    load_path: str = "path/to/export",
    files_note: str | None = None,
    entry_names: dict[str, str] | None = None,
    evaluation: str | None = None,
) -> str:
    """The card text. `configs` default to the export directory's layout (`local_configs`).

    evaluation: a section from `evaluation_section` (a closed-loop report), placed before the config.
    """
    configs = configs or local_configs(formats)
    metadata = card_metadata(name, len(records), configs, license, language or ["en"])
    methods = sorted({r["method"] for r in records})
    models = sorted({r["model"] for r in records if r["model"] and r["model"] != "none"})  # symbolic methods have no model
    funnel = [{"stage": s, "reason": reason, "count": n} for s, reasons in summary.get("rejects", {}).items() for reason, n in sorted(reasons.items())]
    stages = [{"stage": s, "records": n} for s, n in summary.get("records_per_stage", {}).items()]
    names = [c["config_name"] for c in configs]
    default = next((c["config_name"] for c in configs if c.get("default")), names[0])
    files = files_note or (
        "".join(
            f"- `{fmt}.jsonl` (config `{fmt}`): {fmt} format"
            + (f"; LLaMA-Factory / axolotl entry `{entry_names[fmt]}`" if entry_names else "") + "\n"
            for fmt in formats
        )
        + "- `records.parquet` (config `records`): full records with lineage (method, source, parents, model, sampling, seed) and meta\n"
        + "- `hf/`: a `datasets` directory of the first format (`datasets.load_from_disk`)\n"
    )
    body = [
        f"# {name}\n",
        f"Instruction-tuning data made by taskmill (run `{summary.get('run_id', '')}`): "
        f"{len(records)} records from the methods {', '.join(methods) or '-'}, generated with {', '.join(models) or 'no language model (symbolic methods)'}.\n",
        "## Configs and files\n",
        files,
        "## How to load\n",
        "```python\nfrom datasets import load_dataset\n\n"
        f'train = load_dataset("{load_path}", "{default}", split="train")\n'
        + "".join(f'# other configs: load_dataset("{load_path}", "{n}")\n' for n in names if n != default)
        + "```\n",
        "## Records per stage\n",
        _table(stages, ["stage", "records"]),
        "## Rejected records by reason\n",
        "Rejected records are kept in the run's `rejects/` datasets with their reason.\n\n" + _table(funnel, ["stage", "reason", "count"]),
        "## Mixture\n",
        _table([{**m, "weight": round(m["weight"], 4)} if isinstance(m.get("weight"), float) else m for m in mixture],
               ["task", "available", "chosen", "weight"]),
        "## Generators: model and sampling lineage\n",
        _table(_lineage(records), ["method", "model", "records", "sampling"]),
        "## Diversity per task\n",
        "Compression ratio (higher = more redundant) and n-gram diversity (sum over n = 1..5 of unique/total n-grams).\n\n"
        + _table([{**d, "cr": round(d["cr"], 3), "ngd": round(d["ngd"], 3)} for d in summary.get("diversity", [])], ["task", "count", "cr", "ngd"]),
        "## Quality gate\n",
        "Per generator: candidates → parsed by the generator → kept after the gate (rule filters and task-form "
        "checks) → after dedup → selected; rejects by stage and reason; a few kept and rejected records.\n\n"
        + render_quality_markdown(summary.get("quality", {})),
        _lengths_section(summary.get("token_lengths")),
        "## Tokens\n",
        f"Prompt tokens: {summary.get('prompt_tokens', 0)}; completion tokens: {summary.get('completion_tokens', 0)} "
        "(all generation, kept and rejected; throughput is in the run's `summary.json`).\n",
        f"## Examples ({formats[0]} format)\n",
        _examples(records, formats[0]),
        evaluation,
        "## Config\n",
        "The resolved run config (secrets masked; `run_root`, a local path, left out):\n\n```yaml\n"
        + yaml.safe_dump(mask_secrets({k: v for k, v in (resolved_config or {}).items() if k != "run_root"}), sort_keys=False, allow_unicode=True)
        + "```\n",
    ]
    header = "---\n" + yaml.safe_dump(metadata, sort_keys=False, allow_unicode=True) + "---\n\n"
    return header + "\n".join(part for part in body if part)
