"""Self-Guide faithfulness tests for the pure parts (spec §2): parsing, filters, vote, labels, prompts."""

from __future__ import annotations

import json
import logging
from collections import Counter
from pathlib import Path

import pytest

from generators.self_guide.filters import (
    LengthBounds,
    balance,
    first_failure,
    length_bounds,
    majority_vote,
    map_label,
    noise_check,
)
from generators.self_guide.prompts import NOISE_PHRASES, annotation_prompt, input_generation_prompt
from generators.task_specs import TaskFile, TaskFileError, TaskSpec, load_task_file, parse_seed_blocks

SEEDS = '''[input]="The film was
long but moving."
[output]="positive"

[input]="Cold soup, rude staff."
[output]="negative"
[input]="It is a chair."
[output]="neutral"'''


# --- 1. seed parsing --------------------------------------------------------------------------
def test_three_seed_blocks_parse_to_three_tuples():
    assert parse_seed_blocks(SEEDS) == [
        ("The film was\nlong but moving.", "positive"),
        ("Cold soup, rude staff.", "negative"),
        ("It is a chair.", "neutral"),
    ]


def test_task_spec_accepts_block_string_and_infers_type():
    task = TaskSpec(name="t", instruction="Classify.", examples=SEEDS, labels=["positive", "negative", "neutral"])
    assert task.is_classification and len(task.examples) == 3
    assert TaskSpec(name="g", instruction="Write.", examples=[{"input": "a", "output": "b"}]).task_type == "generation"
    with pytest.raises(ValueError, match="labels"):
        TaskSpec(name="c", instruction="x", examples=[{"input": "a", "output": "b"}], task_type="classification")


# --- 2. length filter -------------------------------------------------------------------------
def test_length_bounds_from_seed_lengths():
    bounds = length_bounds([4, 8, 12])
    assert bounds == LengthBounds(1, 14)
    assert [bounds.check("x" * n) for n in (0, 1, 13, 14)] == ["length_out_of_range", None, None, "length_out_of_range"]


def test_length_filter_disabled_when_sigma_is_zero(caplog):
    with caplog.at_level(logging.WARNING):
        assert length_bounds([5, 5, 5]) is None
    assert "length filter disabled" in caplog.text


# --- 3. noise filter --------------------------------------------------------------------------
@pytest.mark.parametrize("text", ["so the input is long", "first\n\nsecond", "Sure, here you go", "Here's one"])
def test_noise_filter_rejects(text):
    phrases = list(NOISE_PHRASES) + ["input", "output", "\n\n", "\\_\\_"]
    assert noise_check(text, phrases) == "noise_phrase"


def test_noise_is_case_sensitive_and_filters_run_in_order():
    phrases = ["Sure,"]
    assert noise_check("sure, fine", phrases) is None
    assert first_failure("", LengthBounds(1, 3), phrases) == "empty"
    assert first_failure("Sure, long text", LengthBounds(1, 3), phrases) == "length_out_of_range"
    assert first_failure("Sure,", None, phrases) == "noise_phrase"


# --- 5. voting --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "outputs, expected",
    [(["a", "a", "b"], "a"), (["a", "b", "c", "d"], None), (["ab", "a"], "a"), ([], None)],
)
def test_majority_vote(outputs, expected):
    assert majority_vote(outputs, 0.3).answer == expected


def test_vote_ties_go_to_first_seen_after_length():
    vote = majority_vote(["bb", "cc", "bb", "cc"], 0.3)
    assert (vote.answer, vote.count, vote.total, vote.votes) == ("bb", 2, 4, {"bb": 2, "cc": 2})


# --- 6, 7. label mapping and balancing --------------------------------------------------------
def test_label_mapping_takes_first_label_in_list_order():
    assert map_label("entails, not neutral", ["neutral", "entails"]) == "neutral"
    assert map_label("entails", ["neutral", "entails"]) == "entails"
    assert map_label("contradiction", ["neutral", "entails"]) is None


def test_balancing_downsamples_to_minority():
    labels = ["entails"] * 7 + ["neutral"] * 3
    keep = balance(labels, seed=11)
    assert Counter(label for label, k in zip(labels, keep) if k) == {"entails": 3, "neutral": 3}
    assert all(keep[7:])  # the minority class is kept whole
    assert keep == balance(labels, seed=11)


# --- 8. prompt structure ----------------------------------------------------------------------
def test_input_prompt_structure():
    seeds = ["alpha one", "beta two", "gamma three"]
    prompt = input_generation_prompt("Classify the text.", seeds, [], None)
    assert "N/A" in prompt
    for seed in seeds:
        assert prompt.count(f'[input]="{seed}"') == 1
    assert prompt.endswith("[input]=\n")
    assert "[instruction]\nClassify the text." in prompt
    assert prompt.count("-" * 40) == 5  # five blocks and the final line, separated by rules


def test_input_prompt_with_pool_and_label():
    prompt = input_generation_prompt("Classify.", ["s1"], ["p1", "p2"], "neutral")
    assert "N/A" not in prompt and '[input]="p1"' in prompt and '[input]="p2"' in prompt
    assert prompt.count('"neutral"') == 2 and prompt.endswith("[input]=\n")


def test_annotation_prompt_layout_has_no_none():
    prompt = annotation_prompt("Say the sentiment.", [("great", "positive"), ("bad", "negative")], "fine")
    assert "None" not in prompt
    lines = prompt.split("\n")
    assert lines[-2:] == ["USER: [input] = fine", "ASSISTANT:"]
    assert "USER: [input] = great\nASSISTANT: positive\nUSER: [input] = bad\nASSISTANT: negative" in prompt


# --- task files -------------------------------------------------------------------------------
def sni_file(tmp_path, outputs):
    data = {
        "Definition": ["Decide whether the hypothesis follows from the premise."],
        "Positive Examples": [
            {"input": "P: a. H: b.", "output": "entails", "explanation": "x"},
            {"input": "P: c. H: d.", "output": "neutral", "explanation": "y"},
        ],
        "Instances": [{"id": f"i{i}", "input": f"in {i}", "output": [out]} for i, out in enumerate(outputs)],
    }
    path = tmp_path / "task1529_scitail_classification.json"
    path.write_text(json.dumps(data))
    return str(path)


def test_sni_classification_detected_with_first_seen_label_order(tmp_path):
    (task,) = load_task_file(sni_file(tmp_path, ["neutral", "entails", "entails", "neutral"]))
    assert task.name == "task1529_scitail_classification"
    assert task.labels == ["entails", "neutral"] and task.is_classification
    assert task.instruction.startswith("Decide") and [e.output for e in task.examples] == ["entails", "neutral"]


def test_sni_generation_when_outputs_are_free_text(tmp_path):
    (task,) = load_task_file(sni_file(tmp_path, [f"answer {i}" for i in range(6)]))
    assert task.task_type == "generation" and task.labels is None
    (forced,) = load_task_file(TaskFile(path=sni_file(tmp_path, ["x"]), labels=["entails", "neutral"]))
    assert forced.is_classification


def test_example_task_file_loads():
    tasks = load_task_file(str(Path(__file__).parents[2] / "examples/tasks/self_guide_tasks.yaml"))
    assert [(t.name, t.task_type) for t in tasks] == [
        ("review_sentiment", "classification"),
        ("headline_writing", "generation"),
    ]
    assert tasks[0].labels == ["positive", "negative", "neutral"] and len(tasks[1].examples) == 3


def test_classification_example_outputs_must_hold_a_label(tmp_path):
    """An example answered outside the label set passed `validate` and became a wrong demonstration."""
    bad = tmp_path / "t.yaml"
    bad.write_text("tasks:\n  - name: x\n    instruction: Classify.\n    labels: [a, b]\n    examples:\n      - {input: one, output: a}\n      - {input: two, output: c}\n")
    with pytest.raises(TaskFileError, match=r"t.yaml:2: tasks\[0\] \(x\): example outputs \['c'\] contain none of the labels \['a', 'b'\]"):
        load_task_file(str(bad))
    # as the generator maps answers: the first label the output contains
    task = TaskSpec(name="t", instruction="Classify.", examples=[{"input": "x", "output": "Answer: positive."}], labels=["positive", "negative"])
    assert task.is_classification
    with pytest.raises(TaskFileError, match=r"example outputs \['entails', 'neutral'\] contain none of the labels \['yes', 'no'\]"):
        load_task_file(TaskFile(path=sni_file(tmp_path, ["entails"]), labels=["yes", "no"]))


def test_text_without_a_letter_or_digit_is_empty():
    assert first_failure("```", None, []) == "empty"
    assert first_failure("...", None, []) == "empty"
    assert first_failure("ok 1", None, []) is None
