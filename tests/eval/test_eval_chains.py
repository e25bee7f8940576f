"""Verifiable chains in the closed loop: held out by document, scored step by step; no model needed."""

import os

import pytest

from eval_fixtures import build_chain_run_dir, exported_sources
from generators.chains.transcript import render_transcript
from taskmill.engine.scripted import ScriptedEngine
from taskmill.evaluate.config import EvaluateConfig
from taskmill.evaluate.heldout import split_run
from taskmill.evaluate.score import accuracy_table, score_model


def test_chains_are_held_out_by_document(tmp_path):
    run_dir = build_chain_run_dir(str(tmp_path))
    source_of = exported_sources(run_dir)
    held_doc = "inline:000001"
    assert held_doc in source_of.values()

    split = split_run(run_dir, EvaluateConfig(heldout={"documents": [held_doc], "chains": 5}))

    assert split.heldout_documents == [held_doc] and split.heldout_tables == []
    assert len(split.heldout) == 5 and {r["source_id"] for r in split.heldout} == {held_doc}
    assert {r["method"] for r in split.heldout} == {"sifo_chain"}
    assert all(source_of[row["id"]] != held_doc for row in split.train_rows)
    removed = [r for r in split.removed if r["reject_reason"] == "heldout_source"]
    assert len(removed) == sum(1 for s in source_of.values() if s == held_doc) > 0
    # new chains (own seed), each with the gold steps the checker needs
    assert not {r["id"] for r in split.heldout} & set(source_of)
    assert all(len(r["meta"]["step_outputs"]) == len(r["meta"]["ops"]) >= 2 for r in split.heldout)


def test_default_heldout_documents_are_a_seeded_fraction(tmp_path):
    run_dir = build_chain_run_dir(str(tmp_path))
    first = split_run(run_dir, EvaluateConfig(heldout={"chains": 4}))
    again = split_run(run_dir, EvaluateConfig(heldout={"chains": 4}))
    assert len(first.heldout_documents) == 1  # 25% of 4 documents
    assert first.heldout_documents == again.heldout_documents
    assert [r["id"] for r in first.heldout] == [r["id"] for r in again.heldout]
    with pytest.raises(ValueError, match=r"heldout.documents.*inline:000099"):
        split_run(run_dir, EvaluateConfig(heldout={"documents": ["inline:000099"]}))
    with pytest.raises(ValueError, match="heldout.chain_generator.*sifo_chain generator named 'nope'"):
        split_run(run_dir, EvaluateConfig(heldout={"chain_generator": "nope"}))


def test_step_accuracy_from_known_right_and_wrong_steps(tmp_path):
    run_dir = build_chain_run_dir(str(tmp_path))
    heldout = split_run(run_dir, EvaluateConfig(heldout={"documents": ["inline:000002"], "chains": 3})).heldout
    assert len(heldout) == 3
    by_prompt = {r["instruction"] + "\n" + r["input"]: r for r in heldout}
    answers = {}
    full, first_only, prose = heldout
    answers[full["id"]] = "Sure.\n" + render_transcript(full["meta"]["step_outputs"])  # every step right
    wrong = list(first_only["meta"]["step_outputs"])
    wrong[1:] = ["something else"] * (len(wrong) - 1)
    answers[first_only["id"]] = render_transcript(wrong)  # step 1 right, the rest wrong
    answers[prose["id"]] = "I would rather not."  # no transcript: every step wrong

    engine = ScriptedEngine(lambda request, _: answers[by_prompt[request.messages[-1]["content"]]["id"]])
    rows = score_model(heldout, "scripted", EvaluateConfig().score, engine=engine)

    assert [r["method"] for r in rows] == ["sifo_chain"] * 3
    assert rows[0]["steps"] == [True] * len(full["meta"]["ops"]) and rows[0]["correct"] and rows[0]["depth"] == len(rows[0]["steps"])
    assert rows[1]["steps"] == [True] + [False] * (len(wrong) - 1) and not rows[1]["correct"] and rows[1]["depth"] == 1
    assert not any(rows[2]["steps"]) and rows[2]["parse_error"]
    assert all(req.max_tokens == EvaluateConfig().score.chain_max_tokens for req in engine.requests)

    table = {(r["group"], r["value"]): r for r in accuracy_table({"tuned": rows})}
    assert (table[("step", "1")]["correct"], table[("step", "1")]["n"]) == (2, 3)
    assert (table[("step", "2")]["correct"], table[("step", "2")]["n"]) == (1, 3)
    assert table[("step", "1")]["accuracy"] == pytest.approx(66.67)
    assert (table[("all", "sifo_chain")]["correct"], table[("all", "sifo_chain")]["n"]) == (1, 3)
    lengths = {len(r["steps"]) for r in rows}
    if 3 in lengths:  # step 3 counts only the chains that have a third step
        assert table[("step", "3")]["n"] == sum(len(r["steps"]) >= 3 for r in rows)


def test_sql_and_chains_together(tmp_path):
    run_dir = build_chain_run_dir(str(tmp_path), with_sql=True)
    split = split_run(run_dir, EvaluateConfig(heldout={"tables": ["rivers"], "tasks": 4, "documents": ["inline:000000"], "chains": 2}))
    methods = [r["method"] for r in split.heldout]
    assert methods.count("sql_exec") == 4 and methods.count("sifo_chain") == 2
    source_of = exported_sources(run_dir)
    assert not {source_of[r["id"]] for r in split.train_rows} & {"table:rivers", "inline:000000"}
    # the majority-answer pool is the SQL rows only, never chain transcripts
    assert split.sql_train_rows() and all(source_of[r["id"]].startswith("table:") for r in split.sql_train_rows())


def test_chain_decontamination_flags_a_copied_sentence_not_a_shared_phrasing(tmp_path):
    import json

    run_dir = build_chain_run_dir(str(tmp_path))
    settings = {"documents": ["inline:000000"], "chains": 3}
    clean = split_run(run_dir, EvaluateConfig(heldout=settings))
    # chains from other documents share the instruction phrasings ("... and then In the result, ...")
    # but none of the held-out sentences: nothing is removed as overlap
    assert clean.overlap["training_rows_removed"] == 0

    path = os.path.join(run_dir, "export", "messages.jsonl")
    rows = [json.loads(line) for line in open(path)]
    victim = next(r for r in rows if exported_sources(run_dir)[r["id"]] == "inline:000003")
    instruction = victim["messages"][0]["content"].rsplit("\n", 1)[0]
    victim["messages"][0]["content"] = instruction + "\n" + clean.heldout[0]["input"]  # a held-out sentence
    with open(path, "w") as handle:
        handle.writelines(json.dumps(r) + "\n" for r in rows)

    split = split_run(run_dir, EvaluateConfig(heldout=settings))
    assert [r["id"] for r in split.removed if r["reject_reason"] == "heldout_overlap"] == [victim["id"]]
