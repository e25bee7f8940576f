"""The judge stage and the Bonito "fields" prompted format, against the scripted engine (exact kwargs and parsing)."""

from __future__ import annotations

import json

from filters.judge import CRITERIA, JudgeConfig, judge_records, parse_verdict, quality_weights, verdict_schema
from generators.bonito import BonitoConfig, BonitoGenerator
from generators.bonito.demos import DEMO_PASSAGES, DEMOS
from generators.bonito.fields import FORMS, build_field_messages, parse_fields, schema_for
from generators.bonito.protocol import TASK_TYPES
from taskmill.engine.scripted import ScriptedEngine

PASSAGE = "The ferry leaves the harbour at 7 am and 5 pm; on Sundays only the morning boat runs."


def record(i: int, output: str = "Yes") -> dict:
    return {"id": f"r{i}", "method": "bonito", "instruction": f"{PASSAGE}\n\nDoes a boat run on Sunday morning?", "output": output, "meta": {"x": 1}}


def verdict(reason: str, *scores: int) -> str:
    return json.dumps({"reason": reason, **dict(zip(CRITERIA, scores))})


def test_judge_scores_go_to_meta_and_the_threshold_filters():
    engine = ScriptedEngine([verdict("correct and grounded", 5, 5, 5, 4), verdict("wrong answer", 4, 4, 1, 2), "not json"], model_name="judge-model")
    kept, rejected = judge_records([record(0), record(1, "No"), record(2)], engine, JudgeConfig(enabled=True), run_seed=1)
    assert [r["id"] for r in kept] == ["r0"]
    assert kept[0]["meta"]["judge"] == {
        "model": "judge-model", "scores": {"task": 5, "grounded": 5, "correct": 5, "clean": 4}, "mean": 4.75, "reason": "correct and grounded",
    }  # fmt: skip
    assert kept[0]["meta"]["x"] == 1
    assert [(r["id"], r["reject_reason"], r["reject_stage"]) for r in rejected] == [("r1", "judge_low_score", "judge"), ("r2", "judge_failed", "judge")]
    assert rejected[0]["meta"]["curation"]["detail"] == {"mean": 2.75, "min_score": 1}
    request = engine.requests[0]
    assert request.json_schema == verdict_schema(list(CRITERIA)) and request.temperature == 0.0 and request.max_tokens == 200
    assert "Does a boat run on Sunday morning?" in request.messages[1]["content"]


def test_judge_min_criterion_and_keep_on_error():
    engine = ScriptedEngine([verdict("ok", 5, 5, 2, 5), "{}"])
    cfg = JudgeConfig(enabled=True, min_criterion=3, on_error="keep")
    kept, rejected = judge_records([record(0), record(1)], engine, cfg)
    assert [r["reject_reason"] for r in rejected] == ["judge_low_score"] and [r["id"] for r in kept] == ["r1"]
    assert kept[0]["meta"]["judge"]["error"] == "invalid verdict"


def test_verdict_parsing_and_quality_weights():
    assert parse_verdict(verdict("r", 1, 2, 3, 4), list(CRITERIA))["mean"] == 2.5
    assert parse_verdict(verdict("r", 1, 2, 3, 9), list(CRITERIA)) is None
    assert parse_verdict(json.dumps({"reason": "r", "task": True, "grounded": 1, "correct": 1, "clean": 1}), list(CRITERIA)) is None
    judged = [{"meta": {"judge": {"mean": 5.0}}}, {"meta": {"judge": {"mean": 1.0}}}, {"meta": {"judge": {"mean": 3.0}}}, {"meta": {}}]
    assert quality_weights(judged) == [1.0, 0.05, 0.5, 1.0]


def test_every_task_type_has_a_form_schema_and_two_demonstrations():
    assert set(FORMS) == set(TASK_TYPES.values()) == set(DEMOS)
    for task_type, form in FORMS.items():
        schema = schema_for(task_type)
        assert schema["required"] == list(form.fields) and schema["additionalProperties"] is False
        for demo in DEMOS[task_type]:
            assert set(demo) == set(form.fields)
            parsed, fields = parse_fields(json.dumps(demo), task_type, DEMO_PASSAGES[0])
            assert parsed.reject is None and parsed.instruction.startswith(DEMO_PASSAGES[0] + "\n\n") and parsed.output


def test_fields_messages_show_demonstrations_then_the_passage():
    messages = build_field_messages("yes-no question answering", "  " + PASSAGE + "  ")
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert json.loads(messages[2]["content"]) == DEMOS["yes-no question answering"][0]
    assert messages[-1]["content"].startswith(f"Passage:\n{PASSAGE}\n\nExercise type: yes-no question answering\n")
    assert "{{context}}" not in "".join(m["content"] for m in messages)
    assert len(build_field_messages("natural language inference", PASSAGE, demos=0)) == 2


def test_fields_mode_end_to_end_on_the_scripted_engine():
    reply = json.dumps({"question": "Does a boat run on Sunday morning?", "answer": "Yes"})
    engine = ScriptedEngine([reply, '{"question": "Q?", "answer": "Maybe"}', '{"question": "cut'], model_name="small-instruct")
    gen = BonitoGenerator(BonitoConfig(method="bonito", tasks={"ynqa": None}, n=3), 42)
    (shard,) = gen.plan_shards([{"id": "d", "text": PASSAGE}])
    out = gen.run_shard(shard, engine)
    (request,) = engine.requests
    assert request.json_schema == schema_for("yes-no question answering") and request.json_schema["properties"]["answer"]["enum"] == ["Yes", "No"]
    (kept,) = out.kept
    assert kept["instruction"] == f"{PASSAGE}\n\nAnswer yes or no, going by the passage above.\nQuestion: Does a boat run on Sunday morning?"
    assert kept["output"] == "Yes" and kept["meta"]["mode"] == "prompted-fields"
    assert kept["meta"]["fields"] == {"question": "Does a boat run on Sunday morning?", "answer": "Yes"}
    assert "context_prepended" not in kept["meta"]
    assert [r["reject_reason"] for r in out.rejects] == ["malformed_json", "malformed_json"]
