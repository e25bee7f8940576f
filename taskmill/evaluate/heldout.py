"""A held-out evaluation that cannot leak: split by source (table or document), then decontaminate.

Split by source, not by record: every held-out task comes from a table that no
training row was made from, so a model cannot pass by recalling a table's
cells. The held-out tasks are made by the run's own `sql_exec` settings
(renderer, `table_budget`, grammar weights), so they are the training task on
unseen tables, never an easier one. Training rows are then checked against the
held-out prompts with taskmill's 8-gram decontamination (Tülu 3 rule,
`filters/decontaminate.py`) and hits are removed and reported.

Held-out SQL answers are capped per value (`heldout.max_answer_share`), so
a model that always answers "1" cannot score on a count-heavy sample.
Verifiable chains (a `sifo_chain` stage) are held out the same way, by
source document (`taskmill.evaluate.chains`).
"""

from __future__ import annotations

import json
import math
import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pyarrow.parquet as pq
import yaml

from filters.decontaminate import DecontaminationConfig, EvalIndex
from filters.text_views import prompt_view
from taskmill.evaluate.chains import choose_heldout_documents, find_generator, make_heldout_chains, run_documents
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
    heldout_documents: list[str] = field(default_factory=list)  # sources of the held-out chains
    balance: dict[str, Any] = field(default_factory=dict)  # SQL answer cap (see `balance_answers`)
    row_sources: dict[str, str] = field(default_factory=dict)  # training row id → source_id (rows the run exported)

    def sql_train_rows(self) -> list[dict]:
        """Training rows made from tables (SQL tasks): the pool of the majority-answer baseline."""
        return [r for r in self.train_rows if self.row_sources.get(r.get("id"), "").startswith(TABLE_PREFIX)]


def load_run_config(run_dir: str) -> dict[str, Any]:
    path = os.path.join(run_dir, "config.yaml")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{run_dir}: no config.yaml; is this a taskmill run directory?")
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle) or {}


def sql_generator_config(run_config: dict[str, Any], name: str | None):
    """The run's `sql_exec` generator config (the first, or the one named `name`); None when it has none."""
    return find_generator(run_config, "sql_exec", name, "heldout.generator")


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


def answer_key(answer: str) -> str:
    """An answer as the checker sees it: case and spacing folded, numbers by value ("1.0" is "1")."""
    text = " ".join(answer.split()).lower()
    try:
        return repr(float(text))
    except ValueError:
        return text


def balance_answers(records: list[dict], tasks: int, max_share: float) -> tuple[list[dict], dict[str, Any]]:
    """At most `tasks` records, no answer more than `max_share` of them, tables taken in turn.

    records: candidate SQL tasks (more than `tasks`, so capped answers can be replaced).
    Returns the kept records and {cap, candidates, capped (candidates skipped), short_by}.
    """
    cap = max(1, math.floor(max_share * tasks))
    by_table: dict[str, list[dict]] = {}
    for record in records:
        by_table.setdefault(record["source_id"], []).append(record)
    queues = list(by_table.values())
    interleaved = [q[i] for i in range(max(map(len, queues), default=0)) for q in queues if i < len(q)]
    counts: Counter[str] = Counter()
    kept, capped = [], 0
    for record in interleaved:
        if len(kept) == tasks:
            break
        key = answer_key(record["output"])
        if counts[key] >= cap:
            capped += 1
            continue
        counts[key] += 1
        kept.append(record)
    return kept, {"cap": cap, "candidates": len(records), "capped": capped, "short_by": tasks - len(kept)}


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
    """Read the run's export, hold sources out, build held-out tasks, decontaminate the training rows.

    SQL tasks are held out by table (a `sql_exec` stage), verifiable chains by document (a
    `sifo_chain` stage); a run needs at least one of the two. Raises ValueError otherwise, and
    FileNotFoundError when the run has no config.yaml or export.
    """
    run_config = load_run_config(run_dir)
    sql_config = sql_generator_config(run_config, cfg.heldout.generator)
    chain_config = find_generator(run_config, "sifo_chain", cfg.heldout.chain_generator, "heldout.chain_generator")
    if sql_config is None and chain_config is None:
        raise ValueError(
            "the run's config.yaml has neither a sql_exec nor a sifo_chain generator; "
            "the evaluation holds out SQL tables or chain documents and needs one of them"
        )
    heldout: list[dict] = []
    heldout_tables: list[str] = []
    balance: dict[str, Any] = {}
    if sql_config is not None:
        heldout_tables = choose_heldout_tables(all_table_ids(sql_config), sql_config, cfg.heldout, cfg.seed)
        # 4x candidates: room to replace tasks whose answer already fills its cap
        candidates = make_heldout_tasks(sql_config, heldout_tables, 4 * cfg.heldout.tasks, cfg.seed)
        sql_tasks, balance = balance_answers(candidates, cfg.heldout.tasks, cfg.heldout.max_answer_share)
        heldout += sql_tasks
    heldout_documents: list[str] = []
    if chain_config is not None:
        documents = run_documents(run_config)
        heldout_documents = choose_heldout_documents([d["id"] for d in documents], cfg.heldout, cfg.seed)
        chosen = set(heldout_documents)
        heldout += make_heldout_chains(chain_config, [d for d in documents if d["id"] in chosen], cfg.heldout.chains, cfg.seed)

    records_path = os.path.join(run_dir, "export", "records.parquet")
    if not os.path.isfile(records_path):
        raise FileNotFoundError(f"{records_path}: missing; run the pipeline to its export stage first")
    source_of = {r["id"]: r["source_id"] for r in from_table(pq.read_table(records_path))}
    rows = read_training_rows(training_file(run_dir, cfg))
    held = {TABLE_PREFIX + t for t in heldout_tables} | set(heldout_documents)
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
    split = Split(kept, heldout, heldout_tables, sorted(train_tables), removed, heldout_documents=heldout_documents, balance=balance)
    split.row_sources = {row["id"]: source_of[row["id"]] for row in kept if row.get("id") in source_of}
    split.overlap["rows_without_source"] = unknown
    if cfg.decontaminate:
        decontaminate(split)
    return split


def _leak_view(record: dict) -> str:
    """What a training row must not contain of a held-out record.

    SQL: the whole prompt (table and question). Chains: the source sentence only; their
    instructions are built from a few fixed phrasings, whose shared 8-grams would flag
    chains from other documents that leak nothing.
    """
    if record.get("method") == "sifo_chain":
        return record["input"]
    return prompt_view(record)


def decontaminate(split: Split) -> None:
    """Drop training rows whose prompt covers > 50% of a held-out prompt's tokens in shared 8-grams."""
    settings = DecontaminationConfig()
    index = EvalIndex(n=settings.n, threshold=settings.instance_threshold)
    for record in split.heldout:
        index.add(f"heldout_{record['method']}", record["id"], _leak_view(record))
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
