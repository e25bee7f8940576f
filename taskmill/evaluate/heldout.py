"""A held-out SQL evaluation that cannot leak: split by source table, then decontaminate.

Split by source, not by record: every held-out task comes from a table that no
training row was made from, so a model cannot pass by recalling a table's
cells. The held-out tasks are made by the run's own `sql_exec` settings
(renderer, `table_budget`, grammar weights), so they are the training task on
unseen tables, never an easier one. Training rows are then checked against the
held-out prompts with taskmill's 8-gram decontamination (Tülu 3 rule,
`filters/decontaminate.py`) and hits are removed and reported.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from typing import Any

import pyarrow.parquet as pq
import yaml

from filters.decontaminate import DecontaminationConfig, EvalIndex
from filters.text_views import prompt_view
from taskmill.evaluate.config import EvaluateConfig, HeldoutConfig
from taskmill.records import derive_seed, from_table, reject, sha256_hex

TABLE_PREFIX = "table:"


@dataclass
class Split:
    """Training rows and held-out tasks, with the counts a report needs."""

    train_rows: list[dict]  # trainer-format rows (messages or prompt/completion)
    heldout: list[dict]  # taskmill records of the held-out SQL tasks
    heldout_tables: list[str]
    train_tables: list[str]
    removed: list[dict] = field(default_factory=list)  # training rows dropped, with reject_reason
    overlap: dict[str, Any] = field(default_factory=dict)  # decontamination report


def load_run_config(run_dir: str) -> dict[str, Any]:
    path = os.path.join(run_dir, "config.yaml")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{run_dir}: no config.yaml; is this a taskmill run directory?")
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle) or {}


def sql_generator_config(run_config: dict[str, Any], name: str | None):
    """The run's `sql_exec` generator config (the first, or the one named `name`)."""
    from generators.sql.config import SqlExecConfig

    candidates = [g for g in run_config.get("generators", []) if g.get("method") == "sql_exec"]
    if name is not None:
        candidates = [g for g in candidates if g.get("name") == name]
    if not candidates:
        wanted = f"a sql_exec generator named {name!r}" if name else "a sql_exec generator"
        raise ValueError(f"heldout.generator: the run's config.yaml has no {wanted}; the SQL evaluation needs one")
    return SqlExecConfig.model_validate(candidates[0])


def choose_heldout_tables(all_tables: list[str], sql_config, cfg: HeldoutConfig, seed: int) -> list[str]:
    """Named tables, else the generator's excluded tables, else a seeded `fraction` of all tables."""
    if cfg.tables is not None:
        wanted = [t.removeprefix(TABLE_PREFIX) for t in cfg.tables]
        unknown = sorted(set(wanted) - set(all_tables))
        if unknown:
            raise ValueError(f"heldout.tables: {unknown} are not tables of the run's SQL sources; known: {all_tables}")
        return wanted
    excluded = [t.removeprefix(TABLE_PREFIX) for t in sql_config.exclude_tables]
    if excluded:
        return [t for t in all_tables if t in excluded]
    if len(all_tables) < 2:
        raise ValueError(f"heldout: the run has {len(all_tables)} table(s); a split by source needs at least 2")
    count = min(len(all_tables) - 1, max(1, math.ceil(cfg.fraction * len(all_tables))))
    ranked = sorted(all_tables, key=lambda t: sha256_hex(f"{seed}|heldout|{t}"))
    return sorted(ranked[:count], key=all_tables.index)


def all_table_ids(sql_config) -> list[str]:
    from generators.sql.generator import list_tables

    return [e["table_id"] for e in list_tables(sql_config.model_copy(update={"exclude_tables": []}))]


def make_heldout_tasks(sql_config, tables: list[str], tasks: int, seed: int) -> list[dict]:
    """SQL tasks from `tables` only, with the run's generator settings and a seed of their own."""
    from generators.sql.generator import SqlExecGenerator

    others = [t for t in all_table_ids(sql_config) if t not in tables]
    config = sql_config.model_copy(update={"exclude_tables": others, "tasks": tasks})
    generator = SqlExecGenerator(config, derive_seed(seed, "heldout-sql"))
    records: list[dict] = []
    for shard in generator.plan_shards([]):
        records.extend(generator.run_shard(shard).kept)
    if not records:
        raise ValueError(f"heldout: the tables {tables} gave no SQL task; hold out other tables")
    return records


def read_training_rows(path: str) -> list[dict]:
    """A trainer file: `messages` or conversational `prompt`/`completion` rows, one JSON per line."""
    rows = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(f"{path}:{number}: not JSON ({err.msg})") from None
            if "messages" not in row and not ("prompt" in row and "completion" in row):
                raise ValueError(f"{path}:{number}: a row needs `messages` or `prompt` and `completion`")
            rows.append(row)
    return rows


def training_file(run_dir: str, cfg: EvaluateConfig) -> str:
    if cfg.training_file:
        return cfg.training_file
    for name in ("prompt_completion.jsonl", "messages.jsonl"):
        path = os.path.join(run_dir, "export", name)
        if os.path.isfile(path):
            return path
    raise FileNotFoundError(
        f"{run_dir}/export has neither prompt_completion.jsonl nor messages.jsonl; "
        "add one of them to export.formats or pass --training-file"
    )


def _as_messages(row: dict) -> dict:
    if "messages" in row:
        return row
    return {**row, "messages": list(row["prompt"]) + list(row["completion"])}


def split_run(run_dir: str, cfg: EvaluateConfig) -> Split:
    """Read the run's export, hold tables out, build held-out tasks, decontaminate the training rows."""
    run_config = load_run_config(run_dir)
    sql_config = sql_generator_config(run_config, cfg.heldout.generator)
    tables = all_table_ids(sql_config)
    heldout_tables = choose_heldout_tables(tables, sql_config, cfg.heldout, cfg.seed)
    heldout = make_heldout_tasks(sql_config, heldout_tables, cfg.heldout.tasks, cfg.seed)

    records_path = os.path.join(run_dir, "export", "records.parquet")
    if not os.path.isfile(records_path):
        raise FileNotFoundError(f"{records_path}: missing; run the pipeline to its export stage first")
    source_of = {r["id"]: r["source_id"] for r in from_table(pq.read_table(records_path))}
    rows = read_training_rows(training_file(run_dir, cfg))
    held = {TABLE_PREFIX + t for t in heldout_tables}
    kept, removed, train_tables, unknown = [], [], set(), 0
    for row in rows:
        source = source_of.get(row.get("id"))
        if source in held:
            removed.append(reject(row, "heldout_source", "evaluate", source_id=source))
            continue
        kept.append(row)
        if source is None:
            unknown += 1  # a row the run did not export (hand-edited file): only decontamination guards it
        elif source.startswith(TABLE_PREFIX):
            train_tables.add(source.removeprefix(TABLE_PREFIX))
    split = Split(kept, heldout, heldout_tables, sorted(train_tables), removed)
    split.overlap["rows_without_source"] = unknown
    if cfg.decontaminate:
        decontaminate(split)
    return split


def decontaminate(split: Split) -> None:
    """Drop training rows whose prompt covers > 50% of a held-out prompt's tokens in shared 8-grams."""
    settings = DecontaminationConfig()
    index = EvalIndex(n=settings.n, threshold=settings.instance_threshold)
    for record in split.heldout:
        index.add("heldout_sql", record["id"], record["instruction"])
    kept, hit_items, hit_rows = [], set(), 0
    for row in split.train_rows:
        hits = index.match(prompt_view(_as_messages(row)))
        if hits:
            hit_rows += 1
            hit_items.update(item for item, _ in hits)
            best = max(coverage for _, coverage in hits)
            split.removed.append(reject(row, "heldout_overlap", "evaluate", coverage=round(best, 4)))
        else:
            kept.append(row)
    split.train_rows = kept
    split.overlap.update({
        "training_rows_checked": len(kept) + hit_rows,
        "training_rows_removed": hit_rows,
        "heldout_items": len(split.heldout),
        "heldout_items_hit": len(hit_items),
        "heldout_percent_hit": round(100 * len(hit_items) / max(1, len(split.heldout)), 3),
        "rule": f"{settings.n}-gram coverage > {settings.instance_threshold} of a held-out prompt",
    })
