"""Held-out split by source, decontamination and scoring: no model needed."""

import json
import os

import pytest

from taskmill.evaluate.config import EvaluateConfig
from taskmill.evaluate.heldout import split_run
from generators.sql.checker import denotation_match
from taskmill.evaluate.score import accuracy_table, answer_text, gold_in_text, score_model
from taskmill.engine.scripted import ScriptedEngine
from eval_fixtures import build_run_dir, exported_sources


def test_split_keeps_heldout_tables_out_of_training(tmp_path):
    run_dir = build_run_dir(str(tmp_path))
    source_of = exported_sources(run_dir)
    exported = sum(1 for s in source_of.values() if s == "table:rivers")
    assert exported > 0

    split = split_run(run_dir, EvaluateConfig(heldout={"tables": ["rivers"], "tasks": 8}))

    assert split.heldout_tables == ["rivers"] and split.train_tables == ["harbours", "peaks"]
    assert len(split.heldout) == 8 and {r["source_id"] for r in split.heldout} == {"table:rivers"}
    assert all(source_of[row["id"]] != "table:rivers" for row in split.train_rows)
    removed = [r for r in split.removed if r["reject_reason"] == "heldout_source"]
    assert len(removed) == exported  # every exported rivers row is removed, with its reason
    # training rows come from the exported file, as a user's trainer reads it
    assert all("prompt" in row and "completion" in row for row in split.train_rows)
    # held-out tasks are new samples (own seed), not the exported rivers rows
    assert not {r["id"] for r in split.heldout} & set(source_of)
    overlap = split.overlap
    assert overlap["heldout_items"] == 8 and overlap["training_rows_checked"] == len(split.train_rows) + overlap["training_rows_removed"]


def test_default_heldout_is_the_generators_excluded_tables(tmp_path):
    run_dir = build_run_dir(str(tmp_path), formats=("messages",), exclude_tables=["peaks"])
    split = split_run(run_dir, EvaluateConfig(heldout={"tasks": 4}))
    assert split.heldout_tables == ["peaks"]
    assert not [r for r in split.removed if r["reject_reason"] == "heldout_source"]  # never generated for training
    assert all("messages" in row for row in split.train_rows)


def test_decontamination_removes_a_training_row_that_copies_a_heldout_prompt(tmp_path):
    run_dir = build_run_dir(str(tmp_path), formats=("messages",))
    probe = split_run(run_dir, EvaluateConfig(heldout={"tables": ["rivers"], "tasks": 4}, decontaminate=False))
    leaked = probe.heldout[0]
    path = os.path.join(run_dir, "export", "messages.jsonl")
    rows = [json.loads(line) for line in open(path)]
    victim = next(r for r in rows if exported_sources(run_dir)[r["id"]] == "table:harbours")
    victim["messages"][0]["content"] = leaked["instruction"]  # a training prompt identical to a held-out one
    with open(path, "w") as handle:
        handle.writelines(json.dumps(r) + "\n" for r in rows)

    split = split_run(run_dir, EvaluateConfig(heldout={"tables": ["rivers"], "tasks": 4}))
    overlap = [r for r in split.removed if r["reject_reason"] == "heldout_overlap"]
    assert [r["id"] for r in overlap] == [victim["id"]]
    assert split.overlap["training_rows_removed"] == 1 and split.overlap["heldout_items_hit"] >= 1
    assert victim["id"] not in {r["id"] for r in split.train_rows}


def test_bad_inputs_name_the_problem(tmp_path):
    run_dir = build_run_dir(str(tmp_path), formats=("messages",))
    with pytest.raises(ValueError, match="heldout.tables.*lakes"):
        split_run(run_dir, EvaluateConfig(heldout={"tables": ["lakes"]}))
    with open(os.path.join(run_dir, "export", "messages.jsonl"), "a") as handle:
        handle.write("{not json\n")
    with pytest.raises(ValueError, match=r"messages.jsonl:\d+: not JSON"):
        split_run(run_dir, EvaluateConfig(heldout={"tables": ["rivers"], "tasks": 2}))
    with pytest.raises(FileNotFoundError, match="config.yaml"):
        split_run(str(tmp_path), EvaluateConfig())


def test_answer_cut_is_the_same_for_every_model():
    assert answer_text("  danube.\nBecause it is long.") == "danube"
    assert answer_text("\n\n2850\n") == "2850"
    assert answer_text("12.") == "12."  # a number keeps its point; the checker reads it as 12
    assert answer_text("") == ""


def test_checker_scores_known_right_and_wrong_answers(tmp_path):
    run_dir = build_run_dir(str(tmp_path), formats=("messages",))
    heldout = split_run(run_dir, EvaluateConfig(heldout={"tables": ["rivers"], "tasks": 6})).heldout
    gold = {r["instruction"]: r["output"] for r in heldout}
    right = {r["instruction"] for r in heldout[::2]}

    def script(request, _):
        prompt = request.messages[-1]["content"]
        return gold[prompt].upper() + "\n" if prompt in right else "I cannot run SQL."

    engine = ScriptedEngine(script)
    rows = score_model(heldout, "scripted", EvaluateConfig().score, engine=engine)
    assert [r["correct"] for r in rows] == [r["instruction"] in right for r in heldout]
    assert [r["gold_in_completion"] for r in rows] == [r["instruction"] in right for r in heldout]
    # a right value inside prose is found by the diagnostic but not scored as correct
    assert gold_in_text("2850", "The answer is 2850 km.") and not denotation_match(answer_text("The answer is 2850 km."), "2850")
    assert all(req.temperature == 0.0 for req in engine.requests)  # greedy
    table = accuracy_table({"base": rows})
    overall = next(r for r in table if r["group"] == "all")
    assert overall["correct"] == len(right) and overall["n"] == 6
    assert {r["group"] for r in table} == {"all", "family", "difficulty", "answer_kind"}


def test_cli_rejects_bad_settings_before_any_work(tmp_path, capsys):
    from taskmill.cli import main

    run_dir = build_run_dir(str(tmp_path), formats=("messages",))
    assert main(["evaluate", run_dir, "--epochs", "0"]) == 2
    assert "train.epochs" in capsys.readouterr().err
    config = tmp_path / "eval.yaml"
    config.write_text("heldout: {fraction: 2}\n")
    assert main(["evaluate", run_dir, "--config", str(config)]) == 2
    assert "heldout.fraction" in capsys.readouterr().err
    assert main(["evaluate", run_dir, "--max-answer-share", "0"]) == 2
    assert "heldout.max_answer_share" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path / "missing")]) == 2
    assert "no such run directory" in capsys.readouterr().err


def test_heldout_answers_are_capped(tmp_path):
    from taskmill.evaluate.heldout import answer_key, balance_answers

    assert answer_key("1") == answer_key("1.0") == answer_key(" 1 ") and answer_key("Danube") == answer_key("danube")
    tasks = [{"source_id": f"table:t{i % 2}", "output": out} for i, out in enumerate(["1"] * 12 + ["2", "3", "1.0", "4", "5", "6", "7"])]
    kept, report = balance_answers(tasks, 8, 0.25)
    keys = [answer_key(r["output"]) for r in kept]
    assert len(kept) == 8 and keys.count(answer_key("1")) == 2  # cap: 25% of 8
    assert report == {"cap": 2, "candidates": 19, "capped": 11, "short_by": 0}
    assert {r["source_id"] for r in kept[:2]} == {"table:t0", "table:t1"}  # tables taken in turn
    few, short = balance_answers(tasks[:12], 8, 0.25)  # only "1"s: the set comes up short, and says so
    assert len(few) == 2 and short["short_by"] == 6

    run_dir = build_run_dir(str(tmp_path), formats=("messages",))
    split = split_run(run_dir, EvaluateConfig(heldout={"tables": ["rivers", "peaks"], "tasks": 10, "max_answer_share": 0.1}))
    counts = {}
    for record in split.heldout:
        counts[answer_key(record["output"])] = counts.get(answer_key(record["output"]), 0) + 1
    assert max(counts.values()) <= 1 and split.balance["cap"] == 1
    assert len(split.heldout) == 10 - split.balance["short_by"]
