"""Task-form checks (filters/task_form.py): one test per reject kind, with the score it records."""

from __future__ import annotations

import pytest

from filters.rules import RulesConfig, check_record
from filters.task_form import TaskFormConfig, span_cover, task_form_verdict, task_view
from filters.task_text import template_ngrams

PASSAGE = (
    "Exceptions are a means of breaking out of the normal flow of control of a code block in order to handle "
    "errors or other exceptional conditions. An exception is raised at the point where the error is detected."
)
ON = TaskFormConfig(enabled=True)


def bonito(task: str, output: str, task_type: str = "question answering without choices", **meta) -> dict:
    return {
        "method": "bonito",
        "instruction": f"{PASSAGE}\n\n{task}",
        "output": output,
        "meta": {"context": PASSAGE, "task_type": task_type, **meta},
    }


def verdict(record: dict, cfg: TaskFormConfig = ON):
    return task_form_verdict(record, cfg)


def test_good_records_pass_each_task_type():
    assert verdict(bonito("Where is an exception raised?", "At the point where the error is detected.")) is None
    assert verdict(bonito("Is an exception raised where the error is detected?", "Yes", "yes-no question answering")) is None
    assert verdict(bonito("What do exceptions break out of?", "the normal flow of control", "extractive question answering")) is None
    summary = "Exceptions leave the normal flow of control to handle errors."
    assert verdict(bonito("Summarize the passage.", summary, "summarization")) is None


def test_on_by_default_off_when_asked_and_symbolic_methods_skipped():
    record = bonito("The passage is here.", "The passage is here.")
    assert TaskFormConfig().enabled  # a config without a curation section still gets the gate
    assert task_form_verdict(record, TaskFormConfig(enabled=False)) is None
    assert verdict({**record, "method": "sql_exec"}) is None


def test_echo_of_the_generated_instruction_not_the_prompt():
    # the whole prompt starts with the passage, so rules F6 (response == prompt) never fires on this
    record = bonito("The passage is here.", "The passage is here.")
    assert check_record(record, RulesConfig()) == []
    assert verdict(record) == ("echo", {"similarity": 1.0, "contained": True})
    reason, detail = verdict(bonito("The correct answer is: yes", "The answer is: yes", "yes-no question answering"))
    assert reason == "echo" and detail["similarity"] == pytest.approx(0.8182, abs=1e-4)


def test_prompt_leak_found_from_the_generator_templates():
    assert ("a", "good", "instance", "is", "a", "yes") in template_ngrams("bonito", 6)
    reason, detail = verdict(bonito("A good instance is a yes-no question about the passage.", "Yes", "yes-no question answering"))
    assert reason == "prompt_leak" and detail["field"] == "task" and detail["shared_words"] == 11
    reason, detail = verdict(bonito("What is this?", "This is a JSON object with two string fields, instruction and response."))
    assert reason == "prompt_leak" and detail["match"] == "a json object with two string fields instruction and response"
    # our own demonstrations are prompt text too
    assert verdict(bonito("Do crabs in tide pools hide under stones?", "Yes", "yes-no question answering"))[0] == "prompt_leak"


def test_placeholders_leak_unless_the_passage_has_them():
    reason, detail = verdict(bonito("Is it raised?", "The answer is: {response_text}"))
    assert (reason, detail) == ("placeholder_leak", {"field": "answer", "match": "{response_text}"})
    assert verdict(bonito("Where is [context] raised?", "here"))[0] == "placeholder_leak"
    code_doc = {**bonito("What does {x} build?", "A set display builds a set."), "meta": {"context": "A set display {x} builds a set.", "task_type": "question answering without choices"}}
    code_doc["instruction"] = "A set display {x} builds a set.\n\nWhat does {x} build?"
    assert verdict(code_doc) is None


def test_meta_text_about_the_format():
    reason, detail = verdict(bonito("Your response should be in JSON format?", "Yes", "yes-no question answering"))
    assert reason == "meta_text" and detail["match"].lower() in ("json", "your response")


def test_fragments():
    reason, detail = verdict(bonito("Create a large-scale dataset comprising 12 million", "It would provide an"))
    assert (reason, detail) == ("fragment", {"field": "answer", "last_word": "an"})
    long_summary = "Exceptions break the normal flow of control so that errors can be handled at"
    assert verdict(bonito("Summarize the passage.", long_summary, "summarization")) == ("fragment", {"field": "answer", "last_word": "at"})
    no_end = "Exceptions break the normal flow of control so that errors get handled elsewhere"
    assert verdict(bonito("Summarize the passage.", no_end, "summarization")) == ("fragment", {"field": "answer", "last_word": "elsewhere"})


def test_repetition_that_rules_f10_lets_through():
    # under 30 words and one line: F10a and F10b do not apply, so the rules keep it
    looped = "An exception is raised. An exception is raised. An exception is raised."
    record = bonito("Where is an exception raised?", looped)
    assert check_record(record, RulesConfig()) == []
    assert verdict(record) == ("repetitive", {"field": "answer", "repeated_sentence": "an exception is raised"})


def test_qa_needs_a_question_and_yes_no_needs_yes_or_no():
    assert verdict(bonito("Exceptions handle errors", "Yes", "yes-no question answering")) == ("no_question", {"field": "task"})
    assert verdict(bonito("Is an exception raised where the error is detected?", "Maybe later", "yes-no question answering")) == (
        "not_yes_no", {"answer_start": "maybe"}
    )  # fmt: skip
    assert verdict(bonito("Ask something about exceptions.", "Exceptions are raised.", "question generation")) == ("no_question", {"field": "answer"})


def test_extractive_answer_must_be_a_passage_span():
    assert span_cover("the normal flow of control", PASSAGE) == 1.0
    reason, detail = verdict(bonito("What do exceptions handle?", "bugs in the code", "extractive question answering"))
    assert reason == "answer_not_in_passage" and detail["span_cover"] == pytest.approx(0.25)


def test_multiple_choice_answer_among_the_options():
    task = "Why are exceptions used?\nA. to handle errors\nB. to speed up loops\nC. to print output"
    assert verdict(bonito(task, "A", "multiple-choice question answering")) is None
    assert verdict(bonito(task, "E", "multiple-choice question answering"))[0] == "answer_not_an_option"
    same = "Why are exceptions used?\nA. errors\nB. errors"
    assert verdict(bonito(same, "A", "multiple-choice question answering")) == ("answer_not_an_option", {"options": 2, "distinct": 1})
    fields = {"question": "Why are exceptions used?", "options": ["errors", "loops", "output", "speed"], "answer": "A"}
    assert verdict(bonito(task, "A. errors", "multiple-choice question answering", fields=fields)) is None
    # the key must be what the passage says when another option is
    assert verdict(bonito(task, "B", "multiple-choice question answering")) == (
        "option_unsupported", {"answer": "to speed up loops", "supported_option": "to handle errors"},
    )  # fmt: skip
    negated = "Which is NOT a use of exceptions?\nA. to handle errors\nB. to speed up loops"
    assert verdict(bonito(negated, "B", "multiple-choice question answering")) is None


def test_double_barreled_yes_no_questions():
    # one yes or no cannot answer two questions; "A or B" inside one question is fine
    asked = "Is an exception raised where the error is detected, and does it stop the program?"
    assert verdict(bonito(asked, "No", "yes-no question answering")) == (
        "double_barreled", {"second_question": ", and does it stop the program?"},
    )  # fmt: skip
    assert verdict(bonito("Is an exception raised for errors or other exceptional conditions?", "Yes", "yes-no question answering")) is None
    assert verdict(bonito("Is the flow of control and the code block left when an exception is raised?", "Yes", "yes-no question answering")) is None
    # conditions of one question, and a predicate continued with "has" (a new user's examples)
    for one in ("Is an exception handled if it is raised in a try block and is the handler listed?",
                "Is an exception raised where the error is detected and has the flow of control ended?"):  # fmt: skip
        assert verdict(bonito(one, "Yes", "yes-no question answering")) is None, one


def test_summaries_shorter_than_and_overlapping_the_passage():
    reason, detail = verdict(bonito("Summarize the passage.", PASSAGE + " More.", "summarization"))
    assert reason == "summary_not_shorter" and detail["length_ratio"] > 1
    # a first sentence kept whole is 0.53 of this passage: a summary still; the passage minus its last
    # clause (0.78) restates it rather than compressing it
    first = "Exceptions are a means of breaking out of the normal flow of control of a code block in order to handle errors."
    assert verdict(bonito("Summarize the passage.", first, "summarization")) is None
    restated = first + " An exception is raised where the error is detected."
    assert verdict(bonito("Summarize the passage.", restated, "summarization")) == ("summary_not_shorter", {"length_ratio": 0.7837})
    reason, detail = verdict(bonito("Summarize the passage.", "Cats sleep most of the day in warm sunny places.", "summarization"))
    assert reason == "summary_off_passage" and detail["overlap"] == 0.0
    # one new content word in seven passes (abstractive wording); content the passage lacks does not
    assert verdict(bonito("Summarize the passage.", "Exceptions leave the normal flow of control to handle errors.", "summarization")) is None
    added = "Exceptions are raised where errors are detected, which makes programs faster and safer."
    assert verdict(bonito("Summarize the passage.", added, "summarization")) == ("summary_off_passage", {"overlap": 0.5})


def test_question_unrelated_to_the_passage():
    reason, detail = verdict(bonito("What is the best way to prepare for a job interview?", "Practice answers."))
    assert (reason, detail) == ("ungrounded", {"lexical_overlap": 0.0})


def test_statement_copied_from_the_passage_is_not_a_task():
    task = "An exception is raised at the point where the error is detected."
    assert verdict(bonito(task, "The error is detected at runtime, and then it stops.", "text generation"))[0] == "copies_passage"


def test_fields_records_are_read_from_their_fields():
    fields = {"question": "Is an exception raised where the error is detected?", "answer": "Yes"}
    record = bonito("Answer yes or no, going by the passage above.\nQuestion: " + fields["question"], "Yes", "yes-no question answering", fields=fields)
    view = task_view(record)
    assert view.task == fields["question"] and view.passage == PASSAGE
    assert verdict(record) is None


def test_generic_checks_apply_to_other_methods():
    record = {"method": "self_guide", "instruction": "Classify the review.", "input": "Great kettle, boils fast.", "output": "Understood. I will reply with the answer only.", "meta": {}}
    assert verdict(record)[0] == "prompt_leak"
    assert verdict({**record, "output": "positive"}) is None


def test_a_broken_record_is_a_reject_not_a_crash():
    assert verdict({"method": "bonito", "instruction": None, "output": 5, "meta": {"context": 3, "task_type": "summarization"}})[0] in (
        "filter_error", "summary_off_passage", "summary_not_shorter"
    )  # fmt: skip


def test_yes_no_task_needs_a_yes_no_question():
    reason, detail = verdict(bonito("What is an exception?", "No", "yes-no question answering"))
    assert (reason, detail) == ("not_yes_no_question", {"field": "task"})
    assert verdict(bonito("Question: Is an exception raised where the error is detected?", "Yes", "yes-no question answering")) is None


def test_a_hypothesis_copied_from_the_passage_must_be_labelled_entailed():
    fields = {"hypothesis": "The exception is raised at the point where the error is detected.", "answer": "neutral"}
    record = bonito("Hypothesis: ...", "neutral", "natural language inference", fields=fields)
    reason, detail = verdict(record)
    assert reason == "wrong_label" and detail == {"span_cover": pytest.approx(0.9167, abs=1e-4), "answer": "neutral"}
    assert verdict(bonito("Hypothesis: ...", "entailment", "natural language inference", fields={**fields, "answer": "entailment"})) is None


def test_numbers_in_a_qa_answer_must_come_from_passage_or_question():
    assert verdict(bonito("How many places can handle an exception?", "Two: 3 blocks.")) == ("unsupported_number", {"numbers": ["3", "two"]})
    task = "How many handlers?\nOptions:\nA. Five\nB. One"
    assert verdict(bonito(task, "A. Five", "multiple-choice question answering"))[0] == "unsupported_number"


def test_embedding_grounding_with_the_packaged_minilm():
    from filters.task_form import embedding_similarity

    related = embedding_similarity("Where is an exception raised?", PASSAGE)
    unrelated = embedding_similarity("Which wine goes with fish?", PASSAGE)
    assert related > 0.5 > unrelated
    cfg = TaskFormConfig(enabled=True, grounding_min=0.0, grounding_embedding_min=0.3)
    reason, detail = verdict(bonito("Which wine goes with fish?", "White wine."), cfg)
    assert reason == "ungrounded" and detail["cosine"] < 0.3
    assert verdict(bonito("Where is an exception raised?", "Where the error is detected."), cfg) is None


def test_field_cut_at_its_schema_max_length():
    """A Bonito "fields" summary stopped by the schema's maxLength (400) closes its JSON and ends
    with finish_reason stop mid-word (demo export, issue 10): field_truncated, with length and bound."""
    from generators.bonito.fields import FORMS

    bound = FORMS["summarization"].fields["summary"]["maxLength"]
    text = PASSAGE + (
        " Handlers catch the raised exception, run their own code, and let the program continue or stop with a"
        " clear message for the user. Unhandled ones end the program after printing a traceback to standard error."
    )
    cut = text[: bound - 11].rstrip() + " The class’"
    record = bonito("Summarize the passage above.", cut, "summarization", mode="prompted-fields", fields={"summary": cut})
    assert verdict(record) == ("field_truncated", {"field": "summary", "chars": len(cut), "max_length": bound})
    assert bound - 3 <= len(cut) <= bound
    short = "Exceptions leave the normal flow of control to handle errors."
    record = bonito("Summarize the passage above.", short, "summarization", mode="prompted-fields", fields={"summary": short})
    assert verdict(record) is None
    off = TaskFormConfig(enabled=True, field_truncation_slack=None)
    # off, the same text is still a fragment: a closing quote alone ("class’") does not end a sentence
    record = bonito("Summarize the passage above.", cut, "summarization", mode="prompted-fields", fields={"summary": cut})
    assert verdict(record, off) == ("fragment", {"field": "answer", "last_word": "class"})
    assert verdict(bonito("Summarize the passage.", "Exceptions break out of the “normal flow.”", "summarization")) is None


def test_self_guide_label_must_be_the_label_its_input_was_written_for():
    def record(output: str, target: str | None) -> dict:
        meta = {"task": "review_sentiment", "target_label": target, "votes": {output: 3}}
        return {"method": "self_guide", "instruction": "Is the review positive, negative or neutral?", "input": "The strap broke.", "output": output, "meta": meta}

    assert verdict(record("positive", "negative")) == ("target_label_mismatch", {"target_label": "negative", "label": "positive"})
    assert verdict(record("Negative", "negative")) is None
    assert verdict(record("A short headline about a bakery", None)) is None  # a generation task has no target label
    assert verdict(record("positive", "negative"), TaskFormConfig(enabled=True, target_label_agreement=False)) is None
