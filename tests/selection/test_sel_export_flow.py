"""export.max_tokens in the real flow (Prefect + Ray, SQL tasks, no LLM): too_long rejects, lengths in the summary."""

import json
import os

import pytest
import statsmodels

from selection.formats import record_to_messages
from selection.lengths import token_counter
from taskmill.records import from_table
from taskmill.store import RunStore

LONGLEY = os.path.join(os.path.dirname(statsmodels.__file__), "datasets", "longley", "longley.csv")
MAX_TOKENS = 300


@pytest.mark.slow
def test_flow_moves_over_long_records_to_rejects_export(tmp_path, prefect_harness, ray_local):
    from flows.pipeline import pipeline

    small = tmp_path / "planets.csv"
    small.write_text("planet,moons\nMercury,0\nEarth,1\nMars,2\n", encoding="utf-8")
    config = {
        "name": "lengths",
        "run_root": str(tmp_path / "runs"),
        "generators": [{"method": "sql_exec", "tasks_per_table": 4, "sources": [{"path": str(small)}, {"path": LONGLEY}]}],
        "curation": {},
        "selection": {"method": "none"},
        "export": {"formats": ["messages", "prompt_completion"], "dataset_name": "lengths", "max_tokens": MAX_TOKENS},
    }
    summary = pipeline(config=config)
    store = RunStore(summary["run_dir"])
    selected = from_table(store.read_stage("selected"))
    too_long = from_table(store.read_stage("rejects/export"))
    exported = [json.loads(line) for line in open(summary["export"]["messages"], encoding="utf-8")]
    # the 3-row table's tasks fit in 300 tokens, the 16 x 7 Longley table's do not
    assert exported and too_long
    assert len(exported) + len(too_long) == len(selected)
    counter = token_counter(None)
    assert all(r["reject_reason"] == "too_long" and r["meta"]["curation"]["detail"]["tokens"] > MAX_TOKENS for r in too_long)
    assert max(counter.count([row["messages"] for row in exported])) <= MAX_TOKENS
    assert counter.count([record_to_messages(r)["messages"] for r in too_long]).min() > MAX_TOKENS
    assert summary["rejects"]["export"] == {"too_long": len(too_long)}
    lengths = summary["token_lengths"]["formats"]
    assert set(lengths) == {"messages", "prompt_completion"} and lengths["messages"]["records"] == len(exported)
    assert lengths["messages"]["max"] <= MAX_TOKENS
    on_disk = json.loads(open(os.path.join(summary["run_dir"], "summary.json"), encoding="utf-8").read())
    assert on_disk["token_lengths"] == summary["token_lengths"]
