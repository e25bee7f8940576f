"""Per-step checks of chain records (filters/chain_form.py), on the junk the demo export let through (issue 10)."""

from __future__ import annotations

import os

import pytest

from filters.chain_form import ChainFormConfig, step_instructions
from filters.task_form import TaskFormConfig, task_form_verdict
from generators.chains.library import load_task_file
from generators.chains.transcript import join_instructions, render_transcript

LIBRARY = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "tasks", "coi_tasks.yaml")
ON = TaskFormConfig(enabled=True)
PASSIVE = "Rewrite the sentence in the passive voice, keeping its meaning."
SIMPLIFY = "Rewrite the text in plain words that a ten-year-old would understand."
KEYWORDS = "List the three most important keywords of the text, separated by commas."
SPELLING = "Correct the spelling mistakes in the sentence and return the corrected sentence."


def chain(instructions: list[str], task_input: str, outputs: list[str], sources: bool = True, **meta) -> dict:
    return {
        "method": "coi",
        "instruction": join_instructions(instructions),
        "input": task_input,
        "output": render_transcript(outputs),
        "meta": {"task_sources": [LIBRARY] * len(instructions) if sources else [], **meta},
    }


def test_copied_demonstration_by_word_run_and_by_keyword_cover():
    record = chain([SPELLING, SIMPLIFY], "The comittee aproved the new budjet for the libary.", [
        "The committee approved the new budget for the library.",
        "The committee approved the new budget for the library because it does not have enough money.",
    ])  # fmt: skip
    reason, detail = task_form_verdict(record, ON)
    assert (reason, detail["step"], detail["shared_words"]) == ("copied_demonstration", 2, 7)
    assert detail["match"] == "because it does not have enough money"
    record = chain([PASSIVE, KEYWORDS], "The committee approved the new budget.", [
        "The new budget was approved by the committee.",
        "The three most important keywords of the text are:\n1. Heavy snow\n2. Mountain pass\n3. Coastal road",
    ])  # fmt: skip
    reason, detail = task_form_verdict(record, ON)
    assert (reason, detail["step"], detail["example_cover"]) == ("copied_demonstration", 2, 1.0)
    # Without the library the same step is still caught: its keywords are not in its input.
    reason, detail = task_form_verdict(dict(record, meta={}), ON)
    assert (reason, detail["step"]) == ("ungrounded_step", 2)
    assert detail["novel_share"] == pytest.approx(6 / 10) and "snow" in detail["novel"]


def test_refusal_fragment_and_repetition_inside_a_step():
    passage = '"continue" may only occur syntactically nested in a "for" or "while" loop.'
    record = chain([f"{passage}\n\nSummarize the passage above.", KEYWORDS], "", [
        "The continue statement may only occur in a", "The task cannot be done on this input.",
    ], categories=["bonito:summarization", "keyword_extraction"])  # fmt: skip
    assert task_form_verdict(record, ON) == ("fragment", {"step": 1, "field": "answer", "last_word": "a"})
    record["output"] = render_transcript(["Continue may only occur inside a loop.", "continue, loop\nThe task cannot be done on this input."])
    assert task_form_verdict(record, ON) == ("step_refusal", {"step": 2, "match": "task cannot be done"})
    record["output"] = render_transcript(["Continue may only occur inside a loop.", "NOT_COMPOSABLE"])
    assert task_form_verdict(record, ON)[0] == "step_refusal"
    looping = "The list is empty. The list of strings is not empty. The list is empty."
    record = chain([SIMPLIFY, SIMPLIFY], "Lists may be empty.", ["A list can be empty.", looping], sources=False)
    assert task_form_verdict(record, ON)[:1] == ("repetitive",) and task_form_verdict(record, ON)[1]["step"] == 2


def test_good_chains_and_every_library_example_pass():
    good = chain([SPELLING, PASSIVE], "The comittee aproved the new budjet.", [
        "The committee approved the new budget.", "The new budget was approved by the committee.",
    ])  # fmt: skip
    assert task_form_verdict(good, ON) is None
    good = chain([SIMPLIFY, KEYWORDS], "The municipality postponed the refurbishment of the aquatic centre.", [
        "The town put off fixing the swimming pool.", "town, swimming pool, fixing",
    ])  # fmt: skip
    assert task_form_verdict(good, ON) is None
    # Every human-written example of the library, as a one-step chain, passes (the check compares it with
    # the other examples of its task, never with itself).
    tasks, _ = load_task_file(LIBRARY, 100, ["English"])
    for task in tasks:
        for example in task.instances:
            record = chain([task.instruction], example.input, [example.output])
            assert task_form_verdict(record, ON) is None, (task.id, example.output)


def test_configurable_and_robust():
    record = chain([PASSIVE, KEYWORDS], "The committee approved the new budget.", [
        "The new budget was approved by the committee.", "snow, mountain pass, coastal road",
    ])  # fmt: skip
    loose = TaskFormConfig(enabled=True, chain=ChainFormConfig(demo_min_words=99, demo_run=9, step_novel_max=1.0))
    assert task_form_verdict(record, loose) is None
    assert task_form_verdict(dict(record, method="sifo_chain"), ON) is None  # symbolic chains: skipped
    broken = dict(record, output="Task 2 output: x")
    assert task_form_verdict(broken, ON) == ("bad_transcript", {"error": "marker 1 is numbered Task 2"})
    missing = dict(record, meta={"task_sources": ["/nonexistent/tasks.yaml"]})
    assert task_form_verdict(missing, ON)[0] == "ungrounded_step"  # an unreadable library just gives no examples


def test_step_instructions_rejoin_a_passage_that_contains_the_joiner():
    record = {"instruction": "Cats and then dogs ran.\n\nSummarize the passage. and then " + KEYWORDS, "meta": {}}
    assert step_instructions(record, 2) == ["Cats and then dogs ran.\n\nSummarize the passage.", KEYWORDS]
