"""CoI faithfulness tests (spec §3) with a scripted engine; the real-vLLM run is in test_chains_vllm.py."""

from __future__ import annotations

import json

import pytest

from generators.chains import CoiConfig, CoiGenerator, check_record, join_instructions, parse_transcript, render_transcript
from generators.chains.transcript import TranscriptError
from taskmill.engine.scripted import ScriptedEngine

SPEC_OUTPUT = (
    "Task 1 output and task 2 input: The committee approved the new budget.\n"
    "Task 2 output: The new budget was approved by the committee."
)


def task(tid, instruction, category, n=1, **extra):
    instances = [{"input": f"{tid} input {i}", "output": f"{tid} gold {i}"} for i in range(n)]
    return {"id": tid, "instruction": instruction, "category": category, "instances": instances, **extra}


def script(valid=lambda instruction, text: True, step=None):
    """Validity: yes/no from `valid(next instruction, previous output)`; step: `<first word>(<input>)`."""

    def answer(request, _i):
        content = request.messages[0]["content"]
        if request.choices:
            instruction = content.split("Task: ", 1)[1].split("\n\nText: ", 1)[0]
            text = content.split("\n\nText: ", 1)[1].split("\n\nCan the task", 1)[0]
            return "yes" if valid(instruction, text) else "no"
        instruction = content.split("\n\n", 1)[0]
        step_input = content.split("Input: ")[-1].split("\n\nWrite only", 1)[0]
        return step(instruction, step_input) if step else f"{instruction.split()[0].lower()}({step_input})"

    return answer


def run(tasks, engine, **cfg):
    gen = CoiGenerator(CoiConfig(tasks=tasks, **cfg), run_seed=7)
    outs = [gen.run_shard(shard, engine) for shard in gen.plan_shards([])]
    kept = [r for o in outs for r in o.kept]
    rejects = [r for o in outs for r in o.rejects]
    held = [r for o in outs for r in o.intermediate]
    return kept, rejects, held


def test_joiner_bytes():
    assert join_instructions(["A.", "B."]) == "A. and then B."
    assert join_instructions(["Fix the spelling", "Is it formal?"]) == "Fix the spelling. and then Is it formal?"


def test_transcript_bytes_two_and_three_steps():
    assert render_transcript(
        ["The committee approved the new budget.", "The new budget was approved by the committee."]
    ) == SPEC_OUTPUT
    three = render_transcript(["a", "b", "c"]).split("\n")
    assert three == ["Task 1 output and task 2 input: a", "Task 2 output and task 3 input: b", "Task 3 output: c"]


@pytest.mark.parametrize(
    "text",
    [
        "Task 1 output and task 2 input: one\nTask 2 output: two",
        "Task 1 output and task 2 input: one \nTask2 output: two",  # released-data variants
        "Task 1 output and task 2 input: one  Task 2 output: two",
        "Sure.\nTask 1 output and task 2 input:one\n\nTask 2 output:  two\n",
    ],
)
def test_parse_tolerates_released_variants(text):
    assert parse_transcript(text) == ["one", "two"]


def test_parse_round_trip_and_bookkeeping_errors():
    outputs = ["first line\nsecond line", "b", "c: with colon"]
    assert parse_transcript(render_transcript(outputs), steps=3) == outputs
    with pytest.raises(TranscriptError, match="not marked as the input of task 2"):
        parse_transcript("Task 1 output: a\nTask 2 output: b")
    with pytest.raises(TranscriptError, match="numbered Task 3"):
        parse_transcript("Task 1 output and task 2 input: a\nTask 3 output: b")
    with pytest.raises(TranscriptError, match="no 'Task i output' marker"):
        parse_transcript("just an answer")
    with pytest.raises(TranscriptError, match="expected 3 steps"):
        parse_transcript(SPEC_OUTPUT, steps=3)


def test_record_matches_spec_shape_and_requests_use_exact_kwargs():
    tasks = [
        task("fix", "Correct the spelling mistakes in the sentence.", "grammar_error_correction"),
        task("passive", "Rewrite the sentence in the passive voice.", "text_rewriting"),
    ]
    tasks[0]["instances"] = [{"input": "The comittee aproved the new budjet.", "output": "The committee approved the new budget."}]
    engine = ScriptedEngine(script(step=lambda i, x: "The new budget was approved by the committee."))
    kept, rejects, held = run(tasks, engine, train_lengths=[2], test_lengths=[])
    (rec,) = [r for r in kept if r["meta"]["task_ids"] == ["fix", "passive"]]
    assert rec["instruction"] == "Correct the spelling mistakes in the sentence. and then Rewrite the sentence in the passive voice."
    assert rec["input"] == "The comittee aproved the new budjet."
    assert rec["output"] == SPEC_OUTPUT
    assert rec["method"] == "coi" and rec["id"].startswith("coi-") and rec["source_id"] == "fix+passive"
    assert rec["parents"] == ["task:fix:0"]
    assert rec["meta"]["categories"] == ["grammar_error_correction", "text_rewriting"]
    assert rec["meta"]["intermediate_outputs"] == ["The committee approved the new budget."]
    assert rec["meta"]["validity_checks"] == [{"pair": [0, 1], "ok": True, "answer": "yes"}]
    assert rec["sampling"] == {"n": 1, "temperature": 0.0, "top_p": 1.0, "max_tokens": 256, "seed": rec["seed"]}
    assert check_record(rec) == []
    validity = [r for r in engine.requests if r.choices]
    assert validity and all(r.choices == ["yes", "no"] and r.temperature == 0.0 and r.max_tokens == 4 for r in validity)
    json.dumps(rec)  # JSON-able end to end


def test_classification_only_last():
    tasks = [
        task("sentiment", "Is the review positive or negative?", "sentiment_analysis", labels=["positive", "negative"]),
        task("summary", "Summarize the text in one sentence.", "summarization"),
    ]
    kept, rejects, _ = run(tasks, ScriptedEngine(script()), train_lengths=[2], test_lengths=[])
    assert [r["meta"]["task_ids"] for r in kept] == [["summary", "sentiment"]]
    (blocked,) = [r for r in rejects if r["meta"]["task_ids"] == ["sentiment", "summary"]]
    assert blocked["reject_reason"] == "heuristic_blocked"
    assert "only be the last step" in blocked["meta"]["curation"]["detail"]["message"]


def test_three_chain_only_from_two_valid_overlapping_pairs():
    tasks = [task(t, f"{t.capitalize()} the text.", f"cat_{t}") for t in ("x", "y", "z", "w")]

    def valid(instruction, text):  # only x→y, y→z and z→w apply
        return (instruction.split()[0], text.split("(")[0].split()[0]) in {("Y", "x"), ("Z", "y"), ("W", "z")}

    kept, _, _ = run(tasks, ScriptedEngine(script(valid=valid)), train_lengths=[2, 3], test_lengths=[])
    chains = sorted(r["meta"]["task_ids"] for r in kept)
    assert ["x", "y", "z"] in chains and ["y", "z", "w"] in chains
    assert [c for c in chains if len(c) == 3] == [["x", "y", "z"], ["y", "z", "w"]]
    (xyz,) = [r for r in kept if r["meta"]["task_ids"] == ["x", "y", "z"]]
    (xy,) = [r for r in kept if r["meta"]["task_ids"] == ["x", "y"]]
    assert xyz["parents"] == ["task:x:0", xy["id"]]
    assert xyz["output"] == "Task 1 output and task 2 input: x gold 0\nTask 2 output and task 3 input: y(x gold 0)\nTask 3 output: z(y(x gold 0))"
    assert [c["pair"] for c in xyz["meta"]["validity_checks"]] == [[0, 1], [1, 2]]
    assert check_record(xyz) == []

    # pairs {(x,y), (z,w)} only: no triple at all
    def disjoint(instruction, text):
        return (instruction.split()[0], text.split("(")[0].split()[0]) in {("Y", "x"), ("W", "z")}

    kept, _, _ = run(tasks, ScriptedEngine(script(valid=disjoint)), train_lengths=[2, 3], test_lengths=[])
    assert sorted(r["meta"]["task_ids"] for r in kept) == [["x", "y"], ["z", "w"]]


@pytest.mark.parametrize("validity", ["check", "sentinel"])
def test_not_composable_yields_a_reject_only(validity):
    tasks = [task("a", "Translate the text.", "translation"), task("b", "Count the words.", "counting")]
    engine = ScriptedEngine(script(valid=lambda i, t: False, step=lambda i, x: "NOT_COMPOSABLE"))
    kept, rejects, held = run(tasks, engine, train_lengths=[2, 3], test_lengths=[], validity=validity)
    assert kept == [] and held == []
    assert {r["reject_reason"] for r in rejects} == {"not_composable"} and len(rejects) == 2
    if validity == "check":  # a failed check stops the chain: no step request is ever sent
        assert all(r.choices for r in engine.requests)


def test_fourth_instance_of_a_category_pair_is_tuple_capped():
    tasks = [task("a", "Fix the text.", "cat_a", n=4), task("b", "Shorten the text.", "cat_b", labels=None)]
    tasks[1]["instances"] = [{"input": "i", "output": "o"}]
    kept, rejects, _ = run(tasks, ScriptedEngine(script()), train_lengths=[2], test_lengths=[])
    ab = [r for r in kept if r["meta"]["task_ids"] == ["a", "b"]]
    capped = [r for r in rejects if r["reject_reason"] == "tuple_cap"]
    assert len(ab) == 3 and len(capped) == 1
    assert capped[0]["meta"]["task_ids"] == ["a", "b"] and capped[0]["output"] == render_transcript(
        [capped[0]["meta"]["intermediate_outputs"][0], f"shorten({capped[0]['meta']['intermediate_outputs'][0]})"]
    )


def test_test_lengths_are_held_out_and_empty_steps_rejected():
    tasks = [task(t, f"{t.capitalize()} the text.", f"cat_{t}") for t in ("p", "q", "r", "s", "t")]
    kept, rejects, held = run(tasks, ScriptedEngine(script()), train_lengths=[2], test_lengths=[4], max_per_category_tuple=1)
    assert {r["meta"]["chain_length"] for r in kept} == {2}
    assert {(r["meta"]["chain_length"], r["meta"]["split"]) for r in held} == {(3, "prefix"), (4, "test")}
    assert all(check_record(r) == [] for r in kept + held)
    kept, rejects, _ = run(tasks[:2], ScriptedEngine(script(step=lambda i, x: "  ")), train_lengths=[2], test_lengths=[])
    assert kept == [] and {r["reject_reason"] for r in rejects} == {"empty_generation"}


def test_shortening_keeps_the_original():
    long = "In this task you are given a sentence with spelling mistakes and you must return it with every mistake corrected."
    tasks = [task("fix", long, "gec"), task("up", "Rewrite the sentence in upper case letters only please.", "case")]

    def answer(request, _i):
        content = request.messages[0]["content"]
        if content.startswith("Rewrite the task description"):
            return "Correct the spelling mistakes" if "spelling" in content else "this answer is far too long " * 5
        return "yes" if request.choices else "done"

    kept, _, _ = run(tasks, ScriptedEngine(answer), train_lengths=[2], test_lengths=[], shorten=True)
    (rec,) = [r for r in kept if r["meta"]["task_ids"] == ["fix", "up"]]
    assert rec["instruction"] == "Correct the spelling mistakes. and then Rewrite the sentence in upper case letters only please."
    assert rec["meta"]["instructions"][0] == long
    assert rec["meta"]["short_instructions"] == ["Correct the spelling mistakes.", None]


def test_steps_that_change_nothing_or_paste_a_demonstration_are_rejected():
    tasks = [task("a", "Fix the text.", "cat_a"), task("b", "Shorten the text.", "cat_b")]
    tasks[0]["instances"] = [{"input": "teh fixed sentense", "output": "the fixed sentence"}]
    tasks[1]["instances"] = [{"input": "a long example sentence", "output": "a demonstration answer"}]

    kept, rejects, _ = run(tasks, ScriptedEngine(script(step=lambda i, x: x.upper())), train_lengths=[2], test_lengths=[])
    assert kept == [] and [r["reject_reason"] for r in rejects] == ["unchanged", "unchanged"]

    def step(instruction, step_input):  # each step pastes the demonstration output it was shown
        return "Sure: a demonstration answer" if instruction.startswith("Shorten") else "so, the fixed sentence."

    kept, rejects, _ = run(tasks, ScriptedEngine(script(step=step)), train_lengths=[2], test_lengths=[])
    by_chain = {tuple(r["meta"]["task_ids"]): r for r in rejects}
    assert kept == [] and {r["reject_reason"] for r in rejects} == {"copied_example"}
    assert by_chain[("a", "b")]["meta"]["curation"]["detail"]["example"] == "a demonstration answer"
    # an output that contains the demonstration because its input did is not a copy
    tasks[0]["instances"][0]["output"] = "a demonstration answer"
    kept, _, _ = run(tasks, ScriptedEngine(script(step=lambda i, x: f"{x}!")), train_lengths=[2], test_lengths=[])
    assert sorted(r["meta"]["task_ids"] for r in kept) == [["a", "b"], ["b", "a"]]
