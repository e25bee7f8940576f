"""End to end: the Prefect flow on Ray with the real vLLM engine, then a resumed rerun."""

import os

import datasets
import pyarrow.parquet as pq
import pytest

from taskmill.records import from_table

pytestmark = pytest.mark.vllm

DOCS = [
    "The city library opens at nine in the morning and closes at six in the evening on weekdays. On Saturdays it closes at two, and it stays closed on Sundays.",
    "Honey bees collect nectar from flowers and store it in wax cells. Fanning their wings evaporates the water, and the thickened nectar becomes honey.",
    "A lighthouse keeper once lived on the island year round. Today the light is automatic, and the keeper's cottage has become a small museum.",
    "Copper conducts electricity well and resists corrosion, so it is widely used in household wiring and in water pipes.",
    "The marathon route follows the river for twenty kilometres before climbing into the old town, where the finish line is set in the main square.",
    "Rainfall in the valley is highest in November. Farmers plant winter wheat in October so the seedlings are established before the heavy rain.",
]


def _config(tmp_path):
    return {
        "name": "e2e",
        "run_root": str(tmp_path / "runs"),
        "seed": 7,
        "sources": [{"kind": "inline", "texts": DOCS}],
        "generators": [
            {"method": "bonito", "shard_size": 3, "tasks": {"qa": None, "ynqa": 3}},
            {"method": "sql_exec", "tasks_per_table": 2, "shard_size": 2},
        ],
        "curation": {},
        "selection": {"method": "none"},
        "export": {"formats": ["messages", "alpaca"], "dataset_name": "e2e"},
    }


def test_flow_generates_curates_exports_and_resumes(tmp_path, prefect_harness, vllm_engine):
    from flows.pipeline import pipeline

    summary = pipeline(config=_config(tmp_path))
    run_dir = summary["run_dir"]
    export = summary["export"]

    # Exported records: the same set as the round-trip check kept (on by default) of the curated ones,
    # fields filled, lineage recorded.
    records = from_table(pq.read_table(export["records"]))
    counts = summary["records_per_stage"]
    assert len(records) == counts["selected"] == counts["roundtrip"] > 0 and counts["roundtrip"] <= counts["curated"]
    bonito = [r for r in records if r["method"] == "bonito"]
    sql = [r for r in records if r["method"] == "sql_exec"]
    assert bonito and sql, "both generators contributed"
    for r in records:
        assert r["id"] and r["instruction"].strip() and r["output"].strip() and r["source_id"]
        assert r["reject_reason"] is None and r["seed"] is not None
    for r in bonito:
        assert r["model"] == vllm_engine.model_name
        assert r["sampling"]["temperature"] == 0.5 and r["sampling"]["max_tokens"] == 256
        assert r["prompt_sha256"] and r["completion_tokens"] > 0 and r["source_id"].startswith("inline:")
    assert all(r["model"] == "none" and r["sampling"] is None for r in sql)

    # Generation tokens are counted; rejects (if any) carry a reason.
    assert summary["completion_tokens"] > 0 and summary["tokens_per_s"] > 0
    for stage, reasons in summary["rejects"].items():
        assert all(reason and reason != "(none)" for reason in reasons), stage

    # Trainer formats and the datasets dir load with the real library.
    hf = datasets.load_from_disk(export["hf"])["train"]
    assert hf.num_rows == len(records) and "messages" in hf.column_names
    assert all(m[-1]["role"] == "assistant" and m[-1]["content"] for m in hf["messages"])
    alpaca = datasets.load_dataset("json", data_files=export["alpaca"], split="train")
    assert {"instruction", "input", "output"} <= set(alpaca.column_names) and alpaca.num_rows == len(records)
    assert "## Rejected records by reason" in open(export["card"]).read()

    # Rerun with the same config: every generation shard is skipped, the dataset is the same.
    sql_shard = os.path.join(run_dir, "generated", "sql_exec", "shard-00001.parquet")
    os.remove(sql_shard)  # as if the run had crashed before this shard completed
    again = pipeline(config=_config(tmp_path))
    reports = {r["method"]: r for r in again["generation"]}
    assert reports["bonito"]["resumed"] == reports["bonito"]["shards"]
    assert reports["sql_exec"]["resumed"] == reports["sql_exec"]["shards"] - 1
    assert os.path.exists(sql_shard)
    assert again["records_per_stage"] == summary["records_per_stage"]
    again_ids = sorted(r["id"] for r in from_table(pq.read_table(again["export"]["records"])))
    assert again_ids == sorted(r["id"] for r in records)


def test_prefect_artifacts_are_published(tmp_path, prefect_harness, vllm_engine):
    from prefect.client.orchestration import get_client

    from flows.pipeline import pipeline

    cfg = _config(tmp_path)
    cfg["generators"] = [{"method": "sql_exec", "tasks_per_table": 1}]
    cfg["name"] = "artifacts"
    summary = pipeline(config=cfg)

    import asyncio

    async def read():
        from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

        async with get_client() as client:
            key = summary["run_id"].lower()
            return await client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(like_=key)))

    artifacts = asyncio.run(read())
    keys = {a.key for a in artifacts}
    assert any(k.endswith("-summary") for k in keys) and any(k.endswith("-rejects") for k in keys)
    markdown = next(a for a in artifacts if a.key.endswith("-summary")).data
    assert "generated/sql_exec" in markdown
