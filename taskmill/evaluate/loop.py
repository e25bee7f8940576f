"""The closed loop as a Prefect flow: split → score base → fine-tune → score tuned → report.

The report compares base, tuned and (for SQL) a majority-answer baseline per
group (task family, difficulty, answer kind; chain length and step index).

Writes under `RUN_DIR/eval/` (or `out_dir`): `train.jsonl` (the rows trained
on), `heldout.parquet` (held-out tasks), `removed.jsonl` (training rows taken
out, each with its reason), `scores-<model>.jsonl` (every answer), `model/`
(the tuned HF model dir), `report.json` and `report.md`. The report table is
published as a Prefect artifact and added to the run's dataset card.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from taskmill.evaluate.config import EvaluateConfig
from taskmill.evaluate.heldout import Split, load_run_config, split_run, training_file
from taskmill.evaluate.report import add_to_card, comparison_rows, render_markdown, write_report
from taskmill.evaluate.score import accuracy_table, backend_for, engine_settings, majority_answer, score_constant, score_model


def _write_jsonl(path: str, rows: list[dict]) -> None:
    from selection.formats import write_jsonl

    write_jsonl(rows, path)


@task(name="heldout-split", cache_policy=NO_CACHE)
def split_task(run_dir: str, cfg: EvaluateConfig, out_dir: str) -> Split:
    import pyarrow.parquet as pq

    from taskmill.records import to_table

    split = split_run(run_dir, cfg)
    _write_jsonl(os.path.join(out_dir, "train.jsonl"), split.train_rows)
    _write_jsonl(os.path.join(out_dir, "removed.jsonl"), split.removed)
    pq.write_table(to_table(split.heldout), os.path.join(out_dir, "heldout.parquet"))
    return split


@task(name="score", cache_policy=NO_CACHE)
def score_task(records: list[dict], model: str, label: str, cfg: EvaluateConfig, backend: str, out_dir: str) -> list[dict]:
    from taskmill.engine.factory import running_engine

    score_cfg = cfg.score.model_copy(update={"backend": backend})
    # A process that already runs an engine for this model (a flow that just generated with it) reuses it.
    engine = None
    if backend == "vllm":
        engine = running_engine(engine_settings(model, cfg.score))
    rows = score_model(records, model, score_cfg, engine=engine)
    _write_jsonl(os.path.join(out_dir, f"scores-{label}.jsonl"), rows)
    return rows


@task(name="fine-tune", cache_policy=NO_CACHE)
def train_task(rows: list[dict], cfg: EvaluateConfig, out_dir: str) -> dict[str, Any]:
    from taskmill.evaluate.train import fine_tune

    return fine_tune(rows, os.path.join(out_dir, "model"), cfg.train)


def _artifact_key(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-")[:90] or "run"


@flow(name="taskmill-evaluate", log_prints=True)
def evaluate_flow(run_dir: str, config: dict[str, Any] | None = None) -> dict[str, Any]:
    """Train on RUN_DIR's export and score base vs tuned on held-out tables and documents; returns the report.

    Raises FileNotFoundError when the run has no export, ValueError when it has
    neither a sql_exec nor a sifo_chain generator or the split leaves nothing to train on.
    """
    from prefect.artifacts import create_markdown_artifact, create_table_artifact

    logger = get_run_logger()
    cfg = EvaluateConfig.model_validate(config or {})
    run_dir = os.path.abspath(run_dir)
    out_dir = os.path.abspath(cfg.out_dir or os.path.join(run_dir, "eval"))
    os.makedirs(out_dir, exist_ok=True)
    start = time.perf_counter()

    split = split_task(run_dir, cfg, out_dir)
    logger.info("held out %s: %d tasks; %d training rows", split.heldout_tables, len(split.heldout), len(split.train_rows))
    backend = backend_for(cfg.score)
    tuned_backend = cfg.score.tuned_backend or backend
    base_rows = score_task(split.heldout, cfg.train.base_model, "base", cfg, backend, out_dir)
    training = train_task(split.train_rows, cfg, out_dir)
    tuned_rows = score_task(split.heldout, training["model_dir"], "tuned", cfg, tuned_backend, out_dir)

    majority = majority_answer(split.sql_train_rows())
    scored = {"base": base_rows, "tuned": tuned_rows}
    if majority is not None and any(r["method"] == "sql_exec" for r in split.heldout):
        scored["majority"] = score_constant(split.heldout, majority)
    accuracy = accuracy_table(scored)
    overall: dict[str, dict[str, float]] = {}
    for row in accuracy:
        if row["group"] == "all":
            overall.setdefault(row["model"], {})[row["value"]] = row["accuracy"]
    gains = {method: round(overall["tuned"][method] - overall["base"][method], 2) for method in overall["base"]}
    sql_rows = {label: [r for r in rows if r["method"] == "sql_exec"] for label, rows in scored.items()}
    buried = {
        label: round(100 * sum(r["gold_in_completion"] for r in rows) / len(rows), 2) if rows else None
        for label, rows in sql_rows.items()
    }
    report = {
        "run_dir": run_dir,
        "models": [
            {"label": "base", "model": cfg.train.base_model, "backend": backend, "accuracy": overall["base"], "gold_in_completion": buried["base"]},
            {"label": "tuned", "model": training["model_dir"], "backend": tuned_backend, "accuracy": overall["tuned"], "gold_in_completion": buried["tuned"]},
        ],
        "gain_points": gains.get("sql_exec"),  # SQL: tuned − base; every family in `gains`
        "gains": gains,
        "majority": {"answer": majority, "accuracy": overall.get("majority", {}).get("sql_exec")},
        "accuracy": accuracy,
        "comparison": comparison_rows(accuracy),
        "training": training,
        "split": {
            "training_file": training_file(run_dir, cfg),
            "rows_in_file": len(split.train_rows) + len(split.removed),
            "removed": dict(Counter(r["reject_reason"] for r in split.removed)),
            "heldout_tables": split.heldout_tables,
            "train_tables": split.train_tables,
            "heldout_tasks": len(split.heldout),
            "heldout_documents": split.heldout_documents,
            "balance": split.balance,
            "overlap": split.overlap,
        },
        "seeds": {"heldout": cfg.seed, "train": cfg.train.seed, "run": load_run_config(run_dir).get("seed")},
        "config": cfg.model_dump(mode="json"),
        "seconds": round(time.perf_counter() - start, 1),
    }
    paths = write_report(out_dir, report)
    markdown = render_markdown(report)
    card = os.path.join(run_dir, "export", "README.md")
    add_to_card(card, markdown)
    report["paths"] = {**paths, "card": card}

    key = _artifact_key(os.path.basename(run_dir))
    create_table_artifact(table=report["comparison"], key=f"{key}-eval", description="held-out accuracy: base vs tuned vs majority answer (percent)")
    create_markdown_artifact(markdown=markdown, key=f"{key}-eval-report", description="taskmill closed-loop evaluation")
    print(json.dumps({"base_accuracy": overall["base"], "tuned_accuracy": overall["tuned"], "gains": gains, "majority": report["majority"]}))
    return report
