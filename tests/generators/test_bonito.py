"""Bonito faithfulness tests (spec §1) against the scripted engine."""

from __future__ import annotations

import hashlib
import json

import pytest
from pydantic import ValidationError

from generators.bonito import BonitoConfig, BonitoGenerator, is_protocol_mode
from generators.bonito.prompted import RESPONSE_SCHEMA
from generators.bonito.protocol import TASK_TYPES, build_prompt, meta_template_pair, parse_prediction
from taskmill.engine.base import GenerationResult
from taskmill.engine.scripted import ScriptedEngine
from taskmill.records import derive_seed, to_table

BONITO_MODEL = "BatsResearch/bonito-v1"
LIBRARY = "The library closes at 6 pm on weekdays and is closed on Sundays."

FROZEN_TASK_TYPES = {
    "exqa": "extractive question answering",
    "mcqa": "multiple-choice question answering",
    "qg": "question generation",
    "qa": "question answering without choices",
    "ynqa": "yes-no question answering",
    "coref": "coreference resolution",
    "paraphrase": "paraphrase generation",
    "paraphrase_id": "paraphrase identification",
    "sent_comp": "sentence completion",
    "sentiment": "sentiment",
    "summarization": "summarization",
    "text_gen": "text generation",
    "topic_class": "topic classification",
    "wsd": "word sense disambiguation",
    "te": "textual entailment",
    "nli": "natural language inference",
}


def generator(run_seed: int = 42, **config) -> BonitoGenerator:
    config.setdefault("tasks", [{"type": "ynqa"}])
    return BonitoGenerator(BonitoConfig.model_validate({"method": "bonito", **config}), run_seed)


def run_one(gen: BonitoGenerator, docs: list[dict], engine: ScriptedEngine):
    shards = gen.plan_shards(docs)
    outputs = [gen.run_shard(shard, engine) for shard in shards]
    kept = [r for o in outputs for r in o.kept]
    rejects = [r for o in outputs for r in o.rejects]
    return kept, rejects, outputs


# --- 1. prompt bytes --------------------------------------------------------------------------
def test_prompt_bytes_exact():
    assert build_prompt("nli", "  ctx  ") == "<|tasktype|>\nnatural language inference\n<|context|>\nctx\n<|task|>\n"


def test_code_and_full_name_give_identical_bytes():
    for code, full in FROZEN_TASK_TYPES.items():
        assert build_prompt(code, "passage") == build_prompt(full, "passage")


def test_unknown_task_type_raises():
    with pytest.raises(ValueError, match="foo"):
        build_prompt("foo", "ctx")


def test_code_map_is_the_frozen_table():
    assert TASK_TYPES == FROZEN_TASK_TYPES
    assert list(TASK_TYPES) == list(FROZEN_TASK_TYPES)


# --- 2. parsing -------------------------------------------------------------------------------
def test_parse_substitutes_context_in_instruction():
    parsed = parse_prediction("Q {{context}}\n<|pipe|>\nA", "C")
    assert (parsed.instruction, parsed.output, parsed.reject) == ("Q C", "A", None)


def test_parse_substitutes_context_in_output():
    parsed = parse_prediction("Q\n<|pipe|>\nsee {{context}}", "C")
    assert (parsed.instruction, parsed.output) == ("Q", "see C")


def test_parse_reject_codes():
    assert parse_prediction("no pipe", "C").reject == "no_pipe"
    assert parse_prediction("a<|pipe|>b<|pipe|>c", "C").reject == "multiple_pipes"


def test_parse_has_no_other_filter_unless_strict():
    assert parse_prediction("Q\n<|pipe|>\n   ", "C").reject is None  # empty answer passes (reference)
    assert parse_prediction("Q\n<|pipe|>\n   ", "C", strict=True).reject == "empty_output"
    assert parse_prediction("Q\n<|pipe|>\nA", "C", strict=True).reject == "missing_placeholder"
    assert parse_prediction("{{context}} Q\n<|pipe|>\nA", "C", strict=True).reject is None


# --- 3. n=2 fan-out and default kwargs --------------------------------------------------------
def test_default_kwargs_exact():
    gen = generator()
    engine = ScriptedEngine(lambda req, i: "{{context}}\n\nQ?\n<|pipe|>\nNo", model_name=BONITO_MODEL)
    run_one(gen, [{"id": "doc-000123", "text": LIBRARY}], engine)
    (request,) = engine.requests
    assert (request.temperature, request.top_p, request.max_tokens, request.n) == (0.5, 0.95, 256, 1)
    assert request.top_k is None and request.stop is None and request.json_schema is None
    assert request.prompt == build_prompt("ynqa", LIBRARY) and request.messages is None


def test_n2_fans_out_to_two_records_sharing_the_document():
    gen = generator(n=2)
    engine = ScriptedEngine(["{{context}} Q1?\n<|pipe|>\nYes", "{{context}} Q2?\n<|pipe|>\nNo"], model_name=BONITO_MODEL)
    kept, rejects, _ = run_one(gen, [{"id": "doc-1", "text": "Passage."}], engine)
    assert rejects == []
    assert [r["source_id"] for r in kept] == ["doc-1", "doc-1"]
    assert [r["sample_index"] for r in kept] == [0, 1]
    assert [r["output"] for r in kept] == ["Yes", "No"]
    assert kept[0]["id"] != kept[1]["id"]
    assert engine.requests[0].n == 2 and len(engine.requests) == 1


def test_spec_record_example():
    raw = "{{context}}\n\nIs the library open on Sunday afternoon?\n<|pipe|>\nNo"
    gen = generator(run_seed=42)
    engine = ScriptedEngine([raw], model_name=BONITO_MODEL)
    (rec,), rejects, outputs = run_one(gen, [{"id": "doc-000123", "text": LIBRARY}], engine)
    assert rejects == []
    assert rec["instruction"] == LIBRARY + "\n\nIs the library open on Sunday afternoon?"
    assert (rec["input"], rec["output"]) == ("", "No")
    assert rec["method"] == "bonito" and rec["method_version"] == "1" and rec["model"] == BONITO_MODEL
    assert rec["id"].startswith("bonito-") and len(rec["id"]) == len("bonito-") + 16
    assert rec["seed"] == derive_seed(42, "bonito", "doc-000123", "ynqa")
    assert rec["sampling"] == {"temperature": 0.5, "top_p": 0.95, "max_tokens": 256, "n": 1, "seed": rec["seed"]}
    prompt = build_prompt("ynqa", LIBRARY)
    assert rec["prompt_sha256"] == hashlib.sha256(prompt.encode()).hexdigest()
    assert rec["meta"] == {
        "task_type": "yes-no question answering", "context": LIBRARY, "raw_prediction": raw, "mode": "protocol",
    }  # fmt: skip
    assert rec["reject_reason"] is None and rec["parents"] == []
    assert outputs[0].stats["stages"] == {"parse": {"candidates": 1, "kept": 1}}
    to_table([rec])  # fits the record schema


def test_rejects_carry_codes_and_raw_text():
    engine = ScriptedEngine(["no pipe here", "a<|pipe|>b<|pipe|>c"], model_name=BONITO_MODEL)
    kept, rejects, outputs = run_one(generator(n=2), [{"id": "d", "text": "P"}], engine)
    assert kept == []
    assert [r["reject_reason"] for r in rejects] == ["no_pipe", "multiple_pipes"]
    assert [r["reject_stage"] for r in rejects] == ["bonito", "bonito"]
    assert rejects[1]["meta"]["raw_prediction"] == "a<|pipe|>b<|pipe|>c"
    assert rejects[1]["meta"]["curation"]["detail"] == {"pipes": 2}
    assert outputs[0].stats["rejects"] == {"no_pipe": 1, "multiple_pipes": 1}


def test_engine_error_becomes_rejects():
    class FailingEngine(ScriptedEngine):
        def generate(self, requests, progress=None):
            self.requests.extend(requests)
            return [GenerationResult(completions=[], prompt_tokens=0, error="boom") for _ in requests]

    kept, rejects, _ = run_one(generator(n=2), [{"id": "d", "text": "P"}], FailingEngine([], model_name=BONITO_MODEL))
    assert kept == [] and [r["reject_reason"] for r in rejects] == ["engine_error", "engine_error"]
    assert [r["sample_index"] for r in rejects] == [0, 1]


# --- 4. meta-template converter ---------------------------------------------------------------
def test_meta_template_converter():
    template = "{{ premise }}\nDoes it follow that {{ hypothesis }}? ||| {{ answer_choices[label] }}"
    example = {"premise": "Bees make honey.", "hypothesis": "H", "answer_choices": ["Yes", "No"], "label": 0}
    pair = meta_template_pair(template, "{{premise}}", example, "nli")
    assert pair == (build_prompt("nli", "Bees make honey."), "{{context}}\nDoes it follow that H?\n<|pipe|>\nYes")


def test_meta_template_skips_templates_without_split_context_or_answer():
    example = {"premise": "P", "hypothesis": "H", "answer_choices": ["", "No"], "label": 0}
    assert meta_template_pair("{{premise}} no split", "{{premise}}", example, "nli") is None
    assert meta_template_pair("{{hypothesis}} ||| x", "{{premise}}", example, "nli") is None
    assert meta_template_pair("{{premise}} ||| {{ answer_choices[label] }}", "{{premise}}", example, "nli") is None


# --- prompted mode ----------------------------------------------------------------------------
def test_mode_selection():
    assert is_protocol_mode("auto", "BatsResearch/bonito-v1")
    assert not is_protocol_mode("auto", "HuggingFaceTB/SmolLM2-135M-Instruct")
    assert is_protocol_mode("protocol", "anything") and not is_protocol_mode("prompted", "bonito")


def test_prompted_json_mode_records_match_protocol_records():
    doc = [{"id": "doc-7", "text": LIBRARY}]
    reply = {"instruction": "{{context}}\n\nIs it open on Sunday?", "response": "No"}
    json_engine = ScriptedEngine([json.dumps(reply)], model_name="small-instruct")
    (prompted,), _, _ = run_one(generator(prompted_format="json"), doc, json_engine)
    (request,) = json_engine.requests
    assert request.prompt is None and request.json_schema == RESPONSE_SCHEMA
    assert [m["role"] for m in request.messages] == ["system", "user"]
    assert "yes-no question answering" in request.messages[1]["content"] and LIBRARY in request.messages[1]["content"]
    assert (request.temperature, request.top_p, request.max_tokens, request.n) == (0.5, 0.95, 256, 1)
    protocol_engine = ScriptedEngine(["{{context}}\n\nIs it open on Sunday?\n<|pipe|>\nNo"], model_name="small-instruct")
    (protocol,), _, _ = run_one(generator(mode="protocol"), doc, protocol_engine)
    assert set(prompted) == set(protocol)
    for key in ("instruction", "input", "output", "source_id", "method", "seed", "sample_index", "reject_reason"):
        assert prompted[key] == protocol[key]
    assert prompted["instruction"] == LIBRARY + "\n\nIs it open on Sunday?"
    assert prompted["prompt_sha256"] == hashlib.sha256(request.prompt_key().encode()).hexdigest()


def test_prompted_json_mode_rejects():
    engine = ScriptedEngine(
        ['{"instruction": "Q", "resp', '{"instruction": "a<|pipe|>b", "response": "c"}'], model_name="small-instruct"
    )
    kept, rejects, _ = run_one(generator(n=2, prompted_format="json"), [{"id": "d", "text": "P"}], engine)
    assert kept == [] and [r["reject_reason"] for r in rejects] == ["malformed_json", "multiple_pipes"]


def test_prompted_pipe_mode():
    engine = ScriptedEngine(["Summarize: {{context}}\n<|pipe|>\nShort."], model_name="small-instruct")
    (rec,), _, _ = run_one(generator(prompted_format="pipe"), [{"id": "d", "text": "Long text."}], engine)
    assert engine.requests[0].json_schema is None and "<|pipe|>" in engine.requests[0].messages[1]["content"]
    assert (rec["instruction"], rec["output"]) == ("Summarize: Long text.", "Short.")


def test_prompted_mode_prepends_a_forgotten_passage_but_protocol_mode_never_does():
    reply = json.dumps({"instruction": "Is it open on Sunday?", "response": "No"})
    doc = [{"id": "d", "text": LIBRARY}]
    (rec,), _, _ = run_one(generator(prompted_format="json"), doc, ScriptedEngine([reply], model_name="small-instruct"))
    assert rec["instruction"] == LIBRARY + "\n\nIs it open on Sunday?" and rec["meta"]["context_prepended"] is True
    (kept,), _, _ = run_one(generator(prompted_format="json", prompted_missing_context="keep"), doc, ScriptedEngine([reply], model_name="small-instruct"))
    assert kept["instruction"] == "Is it open on Sunday?" and "context_prepended" not in kept["meta"]
    raw = "Is it open on Sunday?\n<|pipe|>\nNo"
    (proto,), _, _ = run_one(generator(mode="protocol"), doc, ScriptedEngine([raw], model_name="small-instruct"))
    assert proto["instruction"] == "Is it open on Sunday?"


# --- config and planning ----------------------------------------------------------------------
def test_per_task_sampling_override_and_shorthand():
    gen = generator(tasks={"nli": {"temperature": 0.1, "n": 3}, "exqa": None})
    assert [t.type for t in gen.config.tasks] == ["natural language inference", "extractive question answering"]
    engine = ScriptedEngine(lambda req, i: "x {{context}}<|pipe|>y", model_name=BONITO_MODEL)
    kept, _, _ = run_one(gen, [{"id": "d", "text": "P"}], engine)
    assert [(r.temperature, r.n) for r in engine.requests] == [(0.1, 3), (0.5, 1)]
    assert [r["meta"]["task_type"] for r in kept] == ["natural language inference"] * 3 + ["extractive question answering"]


def test_counts_pick_a_seeded_sample_and_shards_respect_size():
    docs = [{"id": f"doc-{i:03d}", "text": f"text {i}"} for i in range(20)]
    gen = generator(tasks={"ynqa": 5, "summarization": None}, shard_size=8)
    shards = gen.plan_shards(docs)
    assert shards == generator(tasks={"ynqa": 5, "summarization": None}, shard_size=8).plan_shards(docs)
    items = [item for shard in shards for item in shard["items"]]
    assert [len(s["items"]) for s in shards] == [8, 8, 8, 1]
    ynqa = [i["doc_id"] for i in items if i["task_type"] == "yes-no question answering"]
    assert len(ynqa) == 5 and ynqa == sorted(ynqa)
    assert ynqa != [i["doc_id"] for i in generator(run_seed=7, tasks={"ynqa": 5}).plan_shards(docs)[0]["items"]]


def test_config_errors_name_the_field():
    with pytest.raises(ValidationError, match="tasks"):
        BonitoConfig.model_validate({"method": "bonito", "tasks": [{"type": "foo"}]})
    with pytest.raises(ValidationError, match="more than once"):
        BonitoConfig.model_validate({"method": "bonito", "tasks": [{"type": "nli"}, {"type": "natural language inference"}]})
    with pytest.raises(ValidationError, match="temprature"):
        BonitoConfig.model_validate({"method": "bonito", "tasks": [{"type": "nli"}], "temprature": 0.1})


def test_two_generators_of_one_method_draw_their_own_seeds_and_ids():
    """A second Bonito generator (other sampling, same passages and model) must not write the first one's ids."""
    from generators.base import generator_seed

    docs = [{"id": "d1", "text": LIBRARY}]
    configs = [
        BonitoConfig.model_validate({"method": "bonito", "tasks": [{"type": "ynqa"}], **extra})
        for extra in ({}, {"name": "hot", "temperature": 1.2}, {"name": "bonito-2"})
    ]  # fmt: skip
    assert generator_seed(42, configs[0]) == 42  # the first of its method keeps the run's seeds (existing runs resume)
    seeds = {generator_seed(42, c) for c in configs}
    assert len(seeds) == 3
    engine = ScriptedEngine(lambda request, i: "{{context}}\nIs it open on Sundays?\n<|pipe|>\nNo", model_name=BONITO_MODEL)
    ids = [
        {r["id"] for r in run_one(BonitoGenerator(c, generator_seed(42, c)), docs, engine)[0]} for c in configs
    ]  # fmt: skip
    assert all(ids) and not (ids[0] & ids[1]) and not (ids[0] & ids[2]) and not (ids[1] & ids[2])
