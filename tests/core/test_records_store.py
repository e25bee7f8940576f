import json
import os

import pyarrow.parquet as pq
import pytest

from taskmill.records import SCHEMA, derive_seed, from_table, make_record, record_id, reject, to_table
from taskmill.store import RunStore


def test_derive_seed_matches_spec_fixture():
    assert derive_seed(42, "bonito", "doc-000123", 0) == 6695308782856856174
    assert derive_seed(42, "bonito", "doc-000123", 1) == 6643147430298309942


def test_record_id_is_deterministic_and_input_sensitive():
    a = record_id("bonito", "doc-1", "m", "abc", 7, 0)
    assert a == record_id("bonito", "doc-1", "m", "abc", 7, 0)
    assert a.startswith("bonito-") and len(a) == len("bonito-") + 16
    others = {record_id("bonito", "doc-2", "m", "abc", 7, 0), record_id("bonito", "doc-1", "m", "abc", 7, 1),
              record_id("bonito", "doc-1", "m", "abd", 7, 0), record_id("bonito", "doc-1", "m", "abc", 8, 0)}
    assert a not in others and len(others) == 4


def test_make_record_fills_lineage_and_rejects_unknown_fields():
    rec = make_record(method="bonito", source_id="doc-1", instruction="Q", output="A", model="m",
                      prompt="P", seed=3, sample_index=1, sampling={"n": 2}, parents=["x"], meta={"task_type": "qa"})
    assert rec["prompt_sha256"] == "5c62e091b8c0565f1bafad0dad5934276143ae2ccef7a5381e8ada5b1a8d26d2"
    assert rec["parents"] == ["x"] and rec["reject_reason"] is None
    with pytest.raises(TypeError, match="unknown record fields"):
        make_record(method="m", source_id="s", colour="red")


def test_table_roundtrip_keeps_json_fields_and_schema():
    rec = make_record(method="sql_exec", source_id="t", output="1", sampling=None, meta={"sql": "select 1", "n": [1, 2]})
    rej = reject(rec, "empty_result", "sql_exec", rows=0)
    table = to_table([rec, rej])
    assert table.schema == SCHEMA
    back = from_table(table)
    assert back[0]["meta"] == {"sql": "select 1", "n": [1, 2]} and back[0]["sampling"] is None
    assert back[1]["reject_reason"] == "empty_result" and back[1]["reject_stage"] == "sql_exec"
    assert back[1]["meta"]["curation"] == {"stage": "sql_exec", "detail": {"rows": 0}}


def test_store_writes_shards_atomically_and_resumes(tmp_path):
    store = RunStore(str(tmp_path / "run"))
    rec = make_record(method="m", source_id="s", output="o")
    assert not store.has_shard("generated/m", 0)
    store.write_shard("generated/m", 0, to_table([rec]))
    store.record_shard("generated/m", 0, rows=1, seconds=0.1)
    assert store.has_shard("generated/m", 0)
    files = os.listdir(tmp_path / "run" / "generated" / "m")
    assert files == ["shard-00000.parquet"], "no temp files left behind"
    assert pq.read_table(tmp_path / "run" / "generated" / "m" / "shard-00000.parquet").num_rows == 1
    assert from_table(store.read_stage("generated/m"))[0]["id"] == rec["id"]
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["stages"]["generated/m"]["rows"] == 1
    store.mark_stage_done("curated", report={"kept": 1})
    assert RunStore(str(tmp_path / "run")).stage_done("curated")
    store.clear_stage("curated")
    assert not store.stage_done("curated")
    assert store.read_stage("nothing-here").num_rows == 0


def test_iter_shards_reads_only_the_columns_asked_for_that_a_shard_has(tmp_path):
    store = RunStore(str(tmp_path))
    records = [make_record(method="m", source_id=f"s{i}", instruction="long text " * 50, output="o", seed=i) for i in range(3)]
    store.write_shard("stage", 0, to_table(records[:2]))
    store.write_shard("stage", 1, to_table(records[2:]))
    tables = list(store.iter_shards("stage", columns=["id", "reject_reason", "not_a_column"]))
    assert [t.column_names for t in tables] == [["id", "reject_reason"]] * 2
    assert [i for t in tables for i in t.column("id").to_pylist()] == [r["id"] for r in records]
    assert [t.num_rows for t in store.iter_shards("stage")] == [2, 1] and len(next(store.iter_shards("stage")).column_names) == len(SCHEMA)


def test_recording_many_shards_rewrites_the_manifest_a_few_times_not_once_per_shard(tmp_path, monkeypatch):
    store = RunStore(str(tmp_path / "run"))
    writes = []
    write_text = store.write_text
    monkeypatch.setattr(store, "write_text", lambda name, text: (writes.append(name), write_text(name, text))[1])
    for shard in range(500):
        store.record_shard("generated/m", shard, rows=2, seconds=0.01)
    assert 1 <= writes.count("manifest.json") <= 3  # the first shard at once, then at most one write per 2 s
    store.mark_stage_done("generated/m", planned=500)  # the stage's end writes every shard recorded so far
    stage = json.loads((tmp_path / "run" / "manifest.json").read_text())["stages"]["generated/m"]
    assert len(stage["shards"]) == 500 and stage["rows"] == 1000 and stage["done"] and stage["planned"] == 500
