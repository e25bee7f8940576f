"""The labelled check set: complete, and the gate's figures on it do not regress.

The figures themselves (and the held-out halves) are printed by bench/quality.py;
this test only guards them: every record labelled, the gate rejects none of
the records labelled usable, and catches at least the share of junk it
catches today.
"""

from __future__ import annotations

import importlib.util
import os

HERE = os.path.dirname(__file__)


def _bench():
    spec = importlib.util.spec_from_file_location("bench_quality", os.path.join(HERE, "..", "..", "bench", "quality.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_check_set_is_labelled_and_varied():
    records = _bench().load_checkset()
    assert len(records) >= 150
    assert {r["generator"] for r in records} >= {"bonito-fields", "bonito-json", "self_guide", "sql_exec", "sifo_chain", "coi"}
    assert len({r["source_id"] for r in records}) >= 20
    for record in records:
        assert record["label"]["kind"] and isinstance(record["label"]["usable"], bool)
        assert (record["label"]["kind"] == "ok") == record["label"]["usable"]


def test_gate_figures_on_the_check_set():
    bench = _bench()
    records = bench.load_checkset()
    usable = [r for r in records if r["label"]["usable"]]
    assert [bench.gate(r) for r in usable] == [None] * len(usable)
    full, rules_only = bench.scores(records), bench.scores(records, with_task_form=False)
    # 0.79 without a model: most junk Self-Guide records pass the form checks (wrong labels); the
    # round-trip stage in bench/quality.py needs the engine. Every CoI record (all junk) is caught per step.
    assert full["recall"] >= 0.78 and rules_only["recall"] < 0.1
    coi = [r for r in records if r["method"] == "coi"]
    assert len(coi) == 10 and [bench.gate(r) for r in coi].count(None) == 0
    assert full["precision"] > rules_only["precision"]
