"""The closed loop end to end: real Prefect, real vLLM (base), TRL for a few steps, the report and card."""

import asyncio
import json
import os

import pyarrow.parquet as pq
import pytest

from taskmill.records import from_table
from eval_fixtures import build_chain_run_dir

pytestmark = [pytest.mark.vllm, pytest.mark.slow]


def test_train_evaluate_report(tmp_path, prefect_harness, vllm_engine):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from taskmill.evaluate.loop import evaluate_flow

    run_dir = build_chain_run_dir(str(tmp_path), with_sql=True, formats=("messages", "prompt_completion"))
    settings = {
        "heldout": {"tables": ["rivers"], "tasks": 6, "max_answer_share": 1.0, "documents": ["inline:000001"], "chains": 2},
        "train": {"max_steps": 2, "batch_size": 2, "max_length": 256},
        # the base model reuses the session's vLLM engine; the tuned one is scored with
        # transformers' generate (the no-vLLM fallback) instead of loading a second engine
        "score": {"backend": "vllm", "tuned_backend": "transformers", "max_tokens": 12, "chain_max_tokens": 48},
    }
    report = evaluate_flow(run_dir=run_dir, config=settings)
    out = os.path.join(run_dir, "eval")

    # split by source: nothing from the held-out table in the file the model trained on
    records = {r["id"]: r for r in from_table(pq.read_table(os.path.join(run_dir, "export", "records.parquet")))}
    trained = [json.loads(line) for line in open(os.path.join(out, "train.jsonl"))]
    assert trained and not {records[row["id"]]["source_id"] for row in trained} & {"table:rivers", "inline:000001"}
    heldout = from_table(pq.read_table(os.path.join(out, "heldout.parquet")))
    assert len(heldout) == 8 and {r["source_id"] for r in heldout} == {"table:rivers", "inline:000001"}

    # both models scored on the same prompts, with the backends asked for
    base = [json.loads(line) for line in open(os.path.join(out, "scores-base.jsonl"))]
    tuned = [json.loads(line) for line in open(os.path.join(out, "scores-tuned.jsonl"))]
    assert [r["id"] for r in base] == [r["id"] for r in tuned] == [r["id"] for r in heldout]
    assert {r["backend"] for r in base} == {"vllm"} and {r["backend"] for r in tuned} == {"transformers"}
    assert all(r["completion"] for r in base)
    chains = [r for r in tuned if r["method"] == "sifo_chain"]
    assert len(chains) == 2 and all(len(r["steps"]) == r["chain_length"] >= 2 for r in chains)

    # the report has both rows, the training size and the seeds
    assert [m["label"] for m in report["models"]] == ["base", "tuned"]
    overall = {(r["model"], r["value"]): r for r in report["accuracy"] if r["group"] == "all"}
    assert overall[("base", "sql_exec")]["n"] == overall[("tuned", "sql_exec")]["n"] == overall[("majority", "sql_exec")]["n"] == 6
    assert overall[("base", "sql_exec")]["correct"] == sum(r["correct"] for r in base if r["method"] == "sql_exec")
    assert overall[("tuned", "sifo_chain")]["n"] == 2 and ("majority", "sifo_chain") not in overall
    steps = {(r["model"], r["value"]): r for r in report["accuracy"] if r["group"] == "step"}
    assert steps[("base", "1")]["n"] == steps[("tuned", "1")]["n"] == 2  # both rows, per step index
    assert steps[("tuned", "2")]["correct"] == sum(r["steps"][1] for r in chains)
    assert report["majority"]["answer"] and set(report["gains"]) == {"sql_exec", "sifo_chain"}
    assert report["training"]["records"] == len(trained) and report["training"]["steps"] == 2
    assert report["training"]["tokens"] > 0 and report["seeds"]["run"] == 5
    assert os.path.isfile(os.path.join(report["training"]["model_dir"], "config.json"))

    card = open(os.path.join(run_dir, "export", "README.md")).read()
    assert "| group | value | n | base_accuracy | tuned_accuracy | majority_accuracy | gain_points |" in card
    assert "| step | 1 | 2 |" in card
    assert card.count("## Closed-loop evaluation") == 1
    assert "held-out tables (1): rivers" in card

    async def read():
        async with get_client() as client:
            return await client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(like_="run-eval%")))

    artifacts = {a.key: a for a in asyncio.run(read())}
    assert {"run-eval", "run-eval-report"} <= set(artifacts)
    table = artifacts["run-eval"].data
    assert "base_accuracy" in str(table) and "tuned_accuracy" in str(table)
