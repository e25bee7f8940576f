"""Self-Guide generator tests (spec §2) end to end against the scripted engine."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from generators.self_guide import SelfGuideConfig, SelfGuideGenerator, top_by_logprob
from taskmill.engine.base import Completion, GenerationResult
from taskmill.engine.scripted import ScriptedEngine
from taskmill.records import derive_seed, to_table

SENTIMENT = {
    "name": "sentiment3",
    "instruction": "Give the sentiment of the review: positive, negative or neutral.",
    "labels": ["positive", "negative", "neutral"],
    "examples": [
        {"input": "great food", "output": "positive"},
        {"input": "awful service today", "output": "negative"},
        {"input": "a chair", "output": "neutral"},
    ],
}
HEADLINES = {
    "name": "headlines",
    "instruction": "Write a headline.",
    "examples": [
        {"input": "Story one.", "output": "x" * 10},
        {"input": "Story two.", "output": "x" * 20},
        {"input": "Story three.", "output": "x" * 30},
    ],
}


def make(task: dict, run_seed: int = 3, **config) -> SelfGuideGenerator:
    config = {"method": "self_guide", "tasks": [task], "rounds": 1, "prompts_per_round": 1, **config}
    return SelfGuideGenerator(SelfGuideConfig.model_validate(config), run_seed)


def new_input(prompt: str) -> str:
    return prompt.rsplit("USER: [input] = ", 1)[1].split("\n", 1)[0]


def scripted(inputs: list[str], annotate) -> ScriptedEngine:
    """Input prompts consume `inputs` in order; annotation prompts answer annotate(new_input, i)."""
    queue = list(inputs)

    def script(request, i):
        if request.prompt.endswith("[input]=\n"):
            return queue.pop(0)
        return annotate(new_input(request.prompt), i)

    return ScriptedEngine(script, model_name="scripted-model")


def run(gen: SelfGuideGenerator, engine):
    (shard,) = gen.plan_shards([])
    return gen.run_shard(shard, engine)


ROUND0 = ['"happy text one"', '"sad text two"', "  ", "Sure, here it is", '"happy text one"', '"mixed text three"']
ROUND1 = ['"happy text four"', '"noisy text nine"', "happy text one", '"unsure text six"', '"sad text seven"', "happy text eight"]


def sentiment_annotator(text: str, i: int) -> str:
    if "happy" in text:
        return " positive "
    if "sad" in text:
        return "negative"
    if "mixed" in text:
        return f"vote {i:02d}"
    if "noisy" in text:
        return "Here is the answer: positive"
    return "maybe"


def test_classification_end_to_end_with_every_reject_code():
    gen = make(SENTIMENT, rounds=2, prompts_per_round=6, inputs={"length_filter": False})
    engine = scripted(ROUND0 + ROUND1, sentiment_annotator)
    out = run(gen, engine)
    assert Counter(r["reject_reason"] for r in out.rejects) == {
        "empty": 1, "noise_phrase": 2, "duplicate": 2, "no_consensus": 1, "label_unmapped": 1, "balanced_out": 1,
    }  # fmt: skip
    input_rejects = [r for r in out.rejects if r["meta"]["stage"] == "input"]
    assert [(r["meta"]["round"], r["reject_reason"]) for r in input_rejects] == [
        (0, "empty"), (0, "noise_phrase"), (0, "duplicate"), (1, "duplicate"),
    ]  # fmt: skip
    assert all(r["id"].startswith("self_guide-input-") for r in input_rejects)
    assert Counter(r["output"] for r in out.kept) == {"positive": 2, "negative": 2}
    for rec in out.kept:
        assert rec["method"] == "self_guide" and rec["model"] == "scripted-model" and rec["reject_reason"] is None
        assert rec["source_id"] == "sentiment3" and rec["meta"]["task"] == "sentiment3"
        assert rec["instruction"] == SENTIMENT["instruction"] and rec["input"].endswith(("one", "two", "four", "seven", "eight"))
        (parent,) = rec["parents"]
        assert parent.startswith("self_guide-input-") and rec["meta"]["input_record"]["id"] == parent
        assert rec["meta"]["votes"] == {rec["output"]: 10} and rec["meta"]["input_temperature"] == 0.7
        assert rec["meta"]["target_label"] in SENTIMENT["labels"]
        assert rec["sampling"] == {
            "n": 10, "best_of": 20, "temperature": 0.2, "top_k": 10, "top_p": 1.0, "max_tokens": 500,
            "stop": ["USER:"], "seed": rec["seed"],
        }  # fmt: skip
    assert out.stats["stages"] == {"input": {"candidates": 12, "kept": 8}, "output": {"candidates": 8, "kept": 4}}
    # every accepted Stage-1 input is kept as an intermediate record, so every parent id resolves
    intermediate_ids = {r["id"] for r in out.intermediate}
    assert len(out.intermediate) == 8 and all(r["meta"]["stage"] == "input" for r in out.intermediate)
    assert {p for rec in out.kept + out.rejects for p in rec["parents"]} <= intermediate_ids
    to_table(out.kept + out.rejects + out.intermediate)


def test_round_prompts_use_the_pool_of_earlier_rounds():
    gen = make(SENTIMENT, rounds=2, prompts_per_round=6, inputs={"length_filter": False})
    engine = scripted(ROUND0 + ROUND1, sentiment_annotator)
    run(gen, engine)
    input_prompts = [r.prompt for r in engine.requests if r.prompt.endswith("[input]=\n")]
    assert all("N/A" in p for p in input_prompts[:6])
    pool = ["happy text one", "sad text two", "mixed text three"]
    assert all("N/A" not in p and any(f'[input]="{x}"' in p for x in pool) for p in input_prompts[6:])


def test_mock_kwargs_equal_the_parameter_table():
    gen = make(SENTIMENT, inputs={"length_filter": False})
    engine = scripted(['"happy text"'], sentiment_annotator)
    run(gen, engine)
    inp, ann = engine.requests
    assert (inp.temperature, inp.top_k, inp.n, inp.max_tokens, inp.logprobs) == (0.7, 40, 1, 500, False)
    assert inp.seed == derive_seed(3, "self_guide", "sentiment3", "input", 0, 0)
    assert (ann.temperature, ann.top_k, ann.n, ann.max_tokens, ann.logprobs) == (0.2, 10, 20, 500, True)
    gen_engine = scripted(['"A new story."'], lambda text, i: "x" * 20)
    run(make(HEADLINES), gen_engine)
    assert gen_engine.requests[0].temperature == 0.9


def test_config_defaults_are_the_parameter_table():
    cfg = SelfGuideConfig(method="self_guide", tasks=[SENTIMENT])
    assert (cfg.rounds, cfg.prompts_per_round, cfg.context_cutoff, cfg.max_pool_examples) == (40, 10, 3000, 10)
    assert (cfg.inputs.temperature, cfg.inputs.top_k, cfg.inputs.n, cfg.inputs.max_tokens) == (None, 40, 1, 500)
    assert cfg.inputs.length_filter is None  # on for classification, off for generation
    ann = cfg.annotation
    assert (ann.temperature, ann.top_k, ann.n_annot, ann.best_of, ann.max_tokens) == (0.2, 10, 10, 20, 500)
    assert ann.min_frequency == 0.3 and cfg.max_training_tokens == 2000
    with pytest.raises(ValueError, match="best_of"):
        SelfGuideConfig(method="self_guide", tasks=[SENTIMENT], annotation={"best_of": 5})
    with pytest.raises(ValueError, match="tasks"):
        SelfGuideConfig(method="self_guide")


class FakeTokenizer:
    def encode(self, text):
        return text.split()


def test_prompt_budget_uses_engine_tokenizer_and_context_length():
    gen = make(SENTIMENT)
    plain = ScriptedEngine([], model_name="m")
    count, cutoff = gen.prompt_budget(plain)
    assert cutoff == 3000 and count("abcdefgh") == 2.0  # 4 characters per token
    plain.tokenizer = FakeTokenizer()
    plain.settings = type("Settings", (), {"max_model_len": 2048})()
    count, cutoff = gen.prompt_budget(plain)
    assert cutoff == 2048 - 500 and count("three short words") == 3


def test_dedup_across_rounds_keeps_one():
    gen = make(SENTIMENT, rounds=2, inputs={"length_filter": False})
    out = run(gen, scripted(['"happy same"', '"happy same"'], sentiment_annotator))
    assert len(out.kept) == 1 and [r["reject_reason"] for r in out.rejects] == ["duplicate"]
    assert out.rejects[0]["meta"]["round"] == 1


def test_input_length_filter_on_for_classification():
    # Seed input lengths 10, 19, 7 -> mean 12, sigma 5.10 -> window [1, 22).
    out = run(make(SENTIMENT, rounds=2), scripted(['"happy ' + "y" * 30 + '"', '"happy ok"'], sentiment_annotator))
    assert [r["reject_reason"] for r in out.rejects] == ["length_out_of_range"]
    assert out.stats["input"]["length_bounds"] == [1, 22] and len(out.kept) == 1


def test_generation_output_length_filter_and_training_length():
    # Seed output lengths 10, 20, 30 -> window [3, 36); every answer of 50 chars is out of range.
    out = run(make(HEADLINES, rounds=2), scripted(['"Story A."', '"Story B."'], lambda t, i: "y" * (50 if "A" in t else 12)))
    assert out.stats["output"]["length_bounds"] == [3, 36]
    (rejected,) = out.rejects
    assert rejected["reject_reason"] == "length_out_of_range" and rejected["meta"]["filtered"] == {"length_out_of_range": 10}
    assert [r["output"] for r in out.kept] == ["y" * 12]
    too_long = run(make(HEADLINES, max_training_tokens=5), scripted(['"Story B."'], lambda t, i: "y" * 12))
    assert [r["reject_reason"] for r in too_long.rejects] == ["too_long_for_training"] and too_long.kept == []


class LogprobEngine(ScriptedEngine):
    """Twenty answers: the first ten unlikely ("wrong"), the last ten likely ("right")."""

    def generate(self, requests, progress=None):
        self.requests.extend(requests)
        results = []
        for request in requests:
            if request.prompt.endswith("[input]=\n"):
                completions = [Completion('"fresh story"', "stop", 3, -1.0)]
            else:
                completions = [
                    Completion("wrong" if i < 10 else "right", "stop", 1, -50.0 if i < 10 else -1.0 - i / 100)
                    for i in range(request.n)
                ]
            results.append(GenerationResult(completions=completions, prompt_tokens=10))
        return results


def test_best_of_keeps_top_n_by_cumulative_logprob():
    gen = make(HEADLINES, annotation={"length_filter": False})
    (rec,) = run(gen, LogprobEngine([], model_name="m")).kept
    assert rec["output"] == "right" and rec["meta"]["votes"] == {"right": 10} and rec["sample_index"] == 10
    none_safe = [Completion(f"t{i}", "stop", 1, None) for i in range(20)]
    assert top_by_logprob(none_safe, 10) == list(range(10))


def test_context_cutoff_shrinks_the_pool_sample():
    gen = make(SENTIMENT, context_cutoff=300, chars_per_token=4.0)
    pool = [f"pool item {i} " + "z" * 400 for i in range(10)]
    prompt, label = gen.build_input_prompt(gen.config.tasks[0], pool, random.Random(0))
    assert len(prompt) < 1200 and "N/A" in prompt and label in SENTIMENT["labels"]


def test_deterministic_for_a_seed():
    def once(run_seed):
        gen = make(SENTIMENT, run_seed=run_seed, rounds=2, prompts_per_round=6, inputs={"length_filter": False})
        engine = scripted(ROUND0 + ROUND1, sentiment_annotator)
        out = run(gen, engine)
        return [r["id"] for r in out.kept + out.rejects], [r.prompt for r in engine.requests]

    assert once(5) == once(5)
    assert once(5)[0] != once(6)[0]


def with_context(engine: ScriptedEngine, max_model_len: int) -> ScriptedEngine:
    engine.settings = type("Settings", (), {"max_model_len": max_model_len})()
    return engine


def test_annotation_prompt_over_the_context_is_rejected_without_a_call():
    gen = make(SENTIMENT, inputs={"length_filter": False, "max_tokens": 100}, annotation={"max_tokens": 100})
    engine = with_context(scripted(['"happy ' + "w" * 2100 + '"'], sentiment_annotator), 600)
    out = run(gen, engine)
    (rejected,) = out.rejects
    assert rejected["reject_reason"] == "too_long_for_training" and rejected["meta"]["stage"] == "output"
    assert len(engine.requests) == 1  # the input prompt only
    assert out.stats["output"]["engine"]["requests"] == 0


def test_seeds_over_the_context_fail_fast():
    engine = with_context(scripted([], sentiment_annotator), 300)
    with pytest.raises(ValueError, match="sentiment3.*seed inputs alone"):
        run(make(SENTIMENT, inputs={"max_tokens": 100}), engine)
