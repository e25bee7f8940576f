"""End to end on real Prefect, Ray, Parquet and `datasets`, no model: configs a user writes first.

The smallest config (`generators: [{method: sql_exec}]`, every optional section missing) runs
through `taskmill run`; two `sql_exec` generators on different tables keep separate stages;
a ragged CSV's skipped rows reach the run summary.
"""

import json
import os

import pyarrow.parquet as pq
import pytest

from taskmill.records import from_table
from taskmill.store import RunStore

pytestmark = pytest.mark.slow


def test_smallest_config_runs_end_to_end_through_the_cli(tmp_path, monkeypatch, prefect_harness, ray_local):
    # no capsys: Prefect's log handlers would keep its per-test stream, closed after the test
    from taskmill.cli import main

    monkeypatch.chdir(tmp_path)
    # every optional section missing; `tasks` only keeps the test short (the default makes 8,000 tasks)
    (tmp_path / "c.yaml").write_text("generators: [{method: sql_exec, tasks: 64}]\n")
    assert main(["run", "c.yaml"]) == 0
    (run_dir,) = [p for p in (tmp_path / "runs").iterdir()]
    summary = json.loads((run_dir / "summary.json").read_text())
    stages = summary["records_per_stage"]
    assert 32 <= stages["generated/sql_exec"] <= 64  # bundled tables, 64 task slots, a few may fail
    assert stages["selected"] == stages["curated"] == summary["curation"]["records_kept"] > 0
    assert stages["exported"] + sum(summary["rejects"]["export"].values()) == stages["selected"]
    assert summary["sources"] == [] and summary["rejects"]["sources"] == {}
    assert pq.read_table(summary["export"]["records"]).num_rows == stages["exported"]


def test_two_sql_generators_on_different_tables_keep_their_own_shards(tmp_path, prefect_harness, ray_local):
    from flows.pipeline import pipeline

    (tmp_path / "cities.csv").write_text("city,state,population\n" + "".join(f"city {i},state {i % 7},{1000 + 37 * i}\n" for i in range(40)) + "short row,xx\n")
    (tmp_path / "parts.csv").write_text("part,weight,color\n" + "".join(f"part {i},{i * 1.5},{['red', 'blue', 'green'][i % 3]}\n" for i in range(40)))
    config = {
        "run_root": str(tmp_path / "runs"),
        "generators": [
            {"method": "sql_exec", "sources": [{"path": str(tmp_path / "cities.csv")}], "tasks_per_table": 30, "shard_size": 10},
            {"method": "sql_exec", "sources": [{"path": str(tmp_path / "parts.csv")}], "tasks_per_table": 30, "shard_size": 10},
        ],
    }
    summary = pipeline(config=config)
    store = RunStore(summary["run_dir"])
    generated = {}
    for name, table in (("sql_exec", "cities"), ("sql_exec-2", "parts")):
        shards = sorted(os.listdir(store.path(f"generated/{name}")))
        assert len([s for s in shards if s.endswith(".parquet")]) == 3, shards  # 30 slots / 10 per shard
        records = from_table(store.read_stage(f"generated/{name}"))
        assert records and {r["source_id"] for r in records} == {f"table:{table}"}
        generated[name] = len(records)
    # curation read each generator's shards exactly once
    assert summary["curation"]["records_in"] == generated["sql_exec"] + generated["sql_exec-2"]
    assert [g["name"] for g in summary["generation"]] == ["sql_exec", "sql_exec-2"]
    # the ragged row of cities.csv was skipped and counted, and the count reached the summary
    assert summary["rejects"]["sources"] == {"too_few_fields": 1}
    (cities,) = [r for r in summary["sources"] if r["source"].endswith("cities.csv")]
    assert cities["rows"] == 40 and cities["examples"]["too_few_fields"] == [f"{tmp_path / 'cities.csv'}:42: 2 fields, the header has 3"]
