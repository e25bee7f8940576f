"""Round-trip consistency (filters/roundtrip.py) and the answer-form checks (filters/answer_form.py).

The scripted engine pins the exact requests and the comparison; the last test
re-answers with the real packaged model on vLLM.
"""

from __future__ import annotations

import pytest

from filters.roundtrip import RoundtripConfig, normalize_answer, plan, roundtrip_records, token_f1
from filters.task_form import TaskFormConfig, task_form_verdict
from taskmill.engine.base import GenerationResult
from taskmill.engine.scripted import ScriptedEngine
from taskmill.records import make_record

PASSAGE = "The ferry leaves the harbour twice a day, at 7 am and 5 pm. On Sundays only the morning boat runs. The crossing takes forty minutes."
ON = RoundtripConfig(enabled=True)


def bonito(i: int, question: str, answer: str, task_type: str = "question answering without choices", fields=None) -> dict:
    meta = {"context": PASSAGE, "task_type": task_type}
    if fields is not None:
        meta["fields"] = fields
    return make_record(method="bonito", source_id=f"d{i}", instruction=f"{PASSAGE}\n\n{question}", output=answer, seed=i, meta=meta)


def by_question(answers: dict[str, str]):
    """A script that answers by the question found in the request's user turn."""

    def script(request, _i):
        user = request.messages[-1]["content"]
        return next(reply for question, reply in answers.items() if question in user)

    return script


def test_token_f1_follows_squad_normalization():
    assert normalize_answer("The answer is: The Harbour!") == "harbour"
    assert token_f1("at 7 am", "7 am") == pytest.approx(2 * 1 * (2 / 3) / (1 + 2 / 3))
    assert token_f1("forty minutes", "It takes forty minutes.") == pytest.approx(2 * 1 * 0.5 / 1.5)
    assert token_f1("Paris", "Berlin") == 0.0 and token_f1("", "") == 1.0


def test_free_answers_are_kept_when_the_reanswer_agrees_and_rejected_with_the_score_otherwise():
    right = bonito(1, "How long does the crossing take?", "Forty minutes.")
    wrong = bonito(2, "When does the evening ferry leave?", "At 7 am.")
    engine = ScriptedEngine(by_question({"How long": "forty minutes", "evening ferry": "5 pm"}), model_name="m")
    kept, rejected, stats = roundtrip_records([right, wrong], engine, ON, run_seed=3)
    assert [r["id"] for r in kept] == [right["id"]]
    assert kept[0]["meta"]["roundtrip"] == {"model": "m", "kind": "text", "answer": "forty minutes", "score": 1.0}
    assert kept[0]["meta"]["context"] == PASSAGE  # nothing the record had is lost
    [out] = rejected
    assert (out["id"], out["reject_reason"], out["reject_stage"]) == (wrong["id"], "roundtrip_disagree", "roundtrip")
    assert out["meta"]["curation"]["detail"] == {"score": 0.0, "kind": "text", "reanswer": "5 pm"}
    assert stats == {"requests": 2, "agree": 1, "disagree": 1}
    for request in engine.requests:  # greedy, seeded per record, the record's own prompt
        assert request.temperature == 0.0 and request.seed is not None and request.choices is None
        assert PASSAGE in request.messages[-1]["content"] and len(request.messages) == 6
    assert engine.requests[0].seed != engine.requests[1].seed
    # A longer re-answer that holds the generated one agrees partly (F1 2/3): the threshold decides.
    kept_loose, _, _ = roundtrip_records([wrong], ScriptedEngine(["at 7 am and 5 pm"]), RoundtripConfig(enabled=True, threshold=0.6))
    assert kept_loose[0]["meta"]["roundtrip"]["score"] == pytest.approx(0.6667, abs=1e-4)
    _, rejected_strict, _ = roundtrip_records([wrong], ScriptedEngine(["at 7 am and 5 pm"]), RoundtripConfig(enabled=True, threshold=0.7))
    assert rejected_strict[0]["reject_reason"] == "roundtrip_disagree"


def test_yes_no_and_multiple_choice_are_compared_as_labels_under_constrained_choices():
    yes = bonito(1, "Does a boat run on Sunday morning?", "Yes, the morning boat runs.", "yes-no question answering")
    no = bonito(2, "Does the ferry leave at noon?", "Yes.", "yes-no question answering")
    options = ["7 am", "noon", "5 pm", "midnight"]
    mc = bonito(3, "When does the evening boat leave?", "C. 5 pm", "multiple-choice question answering",
                fields={"question": "When does the evening boat leave?", "options": options, "answer": "C"})  # fmt: skip
    engine = ScriptedEngine(by_question({"Sunday morning": "yes", "noon?": "no", "evening boat": "C"}))
    kept, rejected, _ = roundtrip_records([yes, no, mc], engine, ON)
    assert [r["id"] for r in kept] == [yes["id"], mc["id"]]
    assert [(r["id"], r["meta"]["curation"]["detail"]["score"]) for r in rejected] == [(no["id"], 0.0)]
    assert [r.choices for r in engine.requests] == [["yes", "no"], ["yes", "no"], ["A", "B", "C", "D"]]


def test_only_answerable_records_of_the_configured_methods_are_checked():
    summary = bonito(1, "Summarize the passage.", "A ferry timetable.", "summarization")
    sql = make_record(method="sql_exec", source_id="t", instruction="select 1", output="1", seed=1)
    label = make_record(method="self_guide", source_id="review", instruction="Classify the review.", input="Great kettle.", output="positive", seed=2)
    headline = make_record(method="self_guide", source_id="news", instruction="Write a headline.", input="Snow closed the pass.", output="Snow closes mountain pass again", seed=3)
    assert plan(summary, ON) is None and plan(sql, ON) is None
    assert plan(label, ON) == {"kind": "exact", "reference": "positive"}
    assert plan(headline, ON)["kind"] == "text"
    assert plan(label, RoundtripConfig(enabled=True, methods=["bonito"])) is None
    engine = ScriptedEngine(["Negative", "Snow closes the mountain pass"])
    kept, rejected, stats = roundtrip_records([summary, sql, label, headline], engine, ON)
    assert [r["id"] for r in kept] == [summary["id"], sql["id"], headline["id"]]
    assert rejected[0]["id"] == label["id"] and stats["unchecked"] == 2 and stats["requests"] == 2
    assert "roundtrip" not in kept[0]["meta"]


def test_on_by_default_but_a_run_without_model_written_answers_skips_it():
    # the default config gets the measured gate; a SQL-only run must not start an engine for nothing
    from flows.roundtrip import after_curation, roundtrip_enabled
    from taskmill.config import parse_config

    assert RoundtripConfig().enabled
    bonito = parse_config({"generators": [{"method": "bonito", "tasks": {"qa": 1}}, {"method": "sql_exec"}]})
    assert roundtrip_enabled(bonito) and after_curation(bonito) == "roundtrip"
    sql_only = parse_config({"generators": [{"method": "sql_exec"}]})
    assert not roundtrip_enabled(sql_only) and after_curation(sql_only) == "curated"
    off = parse_config({"generators": [{"method": "bonito", "tasks": {"qa": 1}}], "curation": {"roundtrip": {"enabled": False}}})
    assert not roundtrip_enabled(off)
    # the first thing a user writes to turn it off; judge and label_collapse take the same shorthand
    short = parse_config({"generators": [{"method": "bonito", "tasks": {"qa": 1}}], "curation": {"roundtrip": False, "judge": False}})
    assert not roundtrip_enabled(short) and not short.curation.judge.enabled


def test_a_failed_request_keeps_the_record_unchecked_or_rejects_it():
    record = bonito(1, "How long does the crossing take?", "Forty minutes.")

    class Failing(ScriptedEngine):
        def generate(self, requests, progress=None):
            return [GenerationResult(completions=[], prompt_tokens=0, error="boom") for _ in requests]

    kept, _, stats = roundtrip_records([record], Failing([]), ON)
    assert kept[0]["meta"]["roundtrip"]["error"] == "boom" and stats["errors"] == 1
    _, rejected, _ = roundtrip_records([record], Failing([]), RoundtripConfig(enabled=True, on_error="reject"))
    assert rejected[0]["reject_reason"] == "roundtrip_failed"


GATE = TaskFormConfig(enabled=True)


@pytest.mark.parametrize(
    "question, answer, reason",
    [
        ("How many times a day does the ferry leave?", "From the harbour.", "answer_type_mismatch"),
        ("How many times a day does the ferry leave?", "Twice a day.", None),
        ("How many times a day does the ferry leave?", "2", "unsupported_number"),  # 2 is not in the passage
        ("When does the ferry leave the harbour?", "The harbour ferry.", "answer_type_mismatch"),
        ("When does the ferry leave the harbour?", "At 7 am and 5 pm.", None),
        ("When does only the morning boat run?", "On Sundays.", None),
        ("What does the ferry leave from on Sundays?", "The ferry leaves from the harbour.", None),
        ("Which boat runs on Sundays?", "The boat that runs on Sundays.", "answer_in_question"),
        ("Does the morning boat or the ferry run on Sundays?", "The morning boat.", None),
    ],
)
def test_answer_type_and_answer_in_question(question, answer, reason):
    verdict = task_form_verdict(bonito(1, question, answer), GATE)
    assert (verdict[0] if verdict else None) == reason


def test_an_interrogative_question_without_an_end_is_a_fragment():
    ynqa = "yes-no question answering"
    assert task_form_verdict(bonito(1, "Is the morning boat", "Yes", ynqa), GATE) == ("fragment", {"field": "question", "last_word": "boat"})
    assert task_form_verdict(bonito(2, "Does the morning boat run on Sundays?", "Yes", ynqa), GATE) is None
    assert task_form_verdict(bonito(3, "Name the place the ferry leaves from.", "The harbour."), GATE) is None


def test_a_bracketed_identifier_in_place_of_content_is_a_placeholder_leak():
    def self_guide(text):
        return make_record(method="self_guide", source_id="news", instruction="Write a headline.", input=text, output="Bakery wins contest", seed=1)

    verdict = task_form_verdict(self_guide("[label1]\n[label2]"), GATE)
    assert verdict == ("placeholder_leak", {"field": "task", "match": "[label1]"})
    for fine in ("The bakery [NOTE] won.", "As shown in [1], the bakery won the contest.", "Error [Errno 2] ends the run."):
        assert task_form_verdict(self_guide(fine), GATE) is None, fine


@pytest.mark.vllm
def test_the_packaged_model_recovers_a_right_answer_and_not_a_wrong_one(vllm_engine):
    """Questions the 135M model answers right when asked; its own mistakes elsewhere are the bench's business."""
    passage = "Marie Curie was born in Warsaw in 1867. She moved to Paris in 1891 to study physics at the Sorbonne."

    def record(i, question, answer, task_type="question answering without choices"):
        meta = {"context": passage, "task_type": task_type}
        return make_record(method="bonito", source_id="curie", instruction=f"{passage}\n\nQuestion: {question}", output=answer, seed=i, meta=meta)

    records = [
        record(1, "In what year did Marie Curie move to Paris?", "1891"),
        record(2, "In what year did Marie Curie move to Paris?", "1867"),
        record(3, "Was Marie Curie born in Warsaw?", "Yes", "yes-no question answering"),
        record(4, "Was Marie Curie born in Warsaw?", "No", "yes-no question answering"),
    ]
    kept, rejected, stats = roundtrip_records(records, vllm_engine, ON, run_seed=42)
    assert stats["requests"] == 4
    assert [r["id"] for r in kept] == [records[0]["id"], records[2]["id"]]
    assert [(r["id"], r["reject_reason"]) for r in rejected] == [(records[1]["id"], "roundtrip_disagree"), (records[3]["id"], "roundtrip_disagree")]
    assert kept[0]["meta"]["roundtrip"]["answer"] == "1891" and kept[1]["meta"]["roundtrip"]["answer"] == "yes"
    assert all(r["meta"]["roundtrip"]["model"] == vllm_engine.model_name for r in kept)


def test_a_methods_entry_that_is_no_checkable_method_is_a_config_error():
    # `methods: [qa_gen]` (a stage name) or a typo matched no record and switched the check off silently
    from taskmill.config import ConfigError, parse_config

    base = {"sources": [{"kind": "pydoc_topics"}], "generators": [{"method": "bonito", "name": "qa_gen", "tasks": {"qa": 1}}]}
    for wrong in ("qa_gen", "bontio"):
        with pytest.raises(ConfigError) as err:
            parse_config({**base, "curation": {"roundtrip": {"methods": [wrong]}}})
        assert "curation.roundtrip.methods.0" in str(err.value) and "bonito" in str(err.value)
    assert parse_config({**base, "curation": {"roundtrip": {"methods": ["bonito"]}}}).curation.roundtrip.methods == ["bonito"]


def test_a_reanswer_with_nothing_after_its_lead_in_is_unanswered_not_a_disagreement():
    # "The answer is:" then the stop string: the model found nothing to answer (the demo's case was a nonsense
    # question); a reason of its own tells it from a wrong answer, whatever on_error says about engine failures
    record = bonito(1, "How long does the crossing take?", "Forty minutes.")
    kept, rejected, stats = roundtrip_records([record], ScriptedEngine(["The answer is:"]), ON)
    assert kept == [] and stats == {"requests": 1, "unanswered": 1}
    assert rejected[0]["reject_reason"] == "roundtrip_unanswered"
    assert rejected[0]["meta"]["curation"]["detail"] == {"reanswer": "The answer is:"}
