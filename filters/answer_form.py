"""Answer checks for free-text QA records that need no model: the answer's type and its novelty. [ours; issue 10]

- `answer_in_question`: every content word of the answer already stands in the
  question ("What is the purpose of X?" → "The purpose of X"), so it answers
  nothing. Questions that offer their own alternatives ("A or B?") are exempt.
- `answer_type_mismatch`: the question asks for a kind of answer the reply is
  not. "How many / how old / what year / what percentage" need a number (digits
  or a number word); "when" needs a time: a number, a date or time word, or a
  temporal or conditional clause ("when the object is deleted", "after
  import", "at start-up"), since in technical prose "when" often asks for a
  condition rather than a date. The question words are matched at the start of
  the question (after an optional "Question:"), so they are English-only.

- `fragment` (field `question`): a question in interrogative form (a wh-word or
  an auxiliary verb first) that ends with neither "?" nor a sentence end was cut
  off ("Is the code block", "Is the imaginary literal"). Imperative tasks
  ("Name the module that ...") are not interrogative and are left alone.

- `double_barreled` (yes/no questions): the question joins two questions, the
  second led by its own auxiliary verb ("Is X able to A, and does it B?"). One
  yes or no cannot answer both, so the label is ill-defined whichever it is
  (the survey-methodology term for such a question).

All run inside the task-form gate (filters/task_form.py CHECKS) for the QA
task types that expect a free answer; scores go to the reject detail.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from filters.task_text import GENERIC_WORDS, content_stems, words

if TYPE_CHECKING:  # task_form imports this module: no import cycle at run time
    from filters.task_form import TaskFormConfig, TaskView, Verdict

FREE_ANSWER_TYPES = frozenset({"question answering without choices", "extractive question answering"})
_PREFIX = re.compile(r"^\s*(?:question|q)\s*:\s*", re.I)
NEEDS_NUMBER = re.compile(
    r"^\W*(?:how\s+(?:many|old|long\s+ago)|(?:in\s+)?(?:what|which)\s+(?:year|century|decade|percentage|number)|"
    r"what\s+is\s+the\s+(?:number|count|total|sum|percentage)\s+of)\b",
    re.I,
)
NEEDS_TIME = re.compile(r"^\W*when\b", re.I)
NUMBER_WORDS = frozenset(
    """zero no none one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen
    sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred thousand
    million billion dozen single once twice first second third several""".split()
)
TIME_WORDS = frozenset(
    """january february march april may june july august september october november december monday tuesday
    wednesday thursday friday saturday sunday today yesterday tomorrow now never always morning evening night
    year years month months week weeks day days hour hours minute minutes second seconds century decade era
    ago early late later earlier soon before after during while until till since once whenever when if unless
    as at on in by upon every each time times immediately startup start end""".split()
)


def _question(v: "TaskView") -> str:
    """The question line of the task text (its first line that asks something)."""
    for line in v.task.splitlines():
        line = _PREFIX.sub("", line).strip()
        if line and ("?" in line or re.match(r"^\W*(?:what|which|who|when|where|why|how|in)\b", line, re.I)):
            return line
    return _PREFIX.sub("", v.task).strip()


def has_number(text: str) -> bool:
    return any(w.isdigit() or any(c.isdigit() for c in w) or w in NUMBER_WORDS for w in words(text))


def has_time(text: str) -> bool:
    tokens = words(text)
    return has_number(text) or any(w in TIME_WORDS for w in tokens[:3]) or any(w in TIME_WORDS - {"as", "at", "on", "in", "by"} for w in tokens)


INTERROGATIVE = re.compile(
    r"^\W*(?:what|which|who|whom|whose|when|where|why|how|is|are|was|were|does|do|did|can|could|will|would|"
    r"should|has|have|had|may|might|must)\b",
    re.I,
)
QUESTION_TYPES = FREE_ANSWER_TYPES | {"yes-no question answering", "multiple-choice question answering"}


def check_unfinished_question(v: "TaskView", cfg: "TaskFormConfig") -> "Verdict":
    if v.task_type not in QUESTION_TYPES:
        return None
    question = _question(v)
    if INTERROGATIVE.match(question) and not re.search(r"[?.!:)\"'”’]\s*$", question):
        return "fragment", {"field": "question", "last_word": (words(question) or [""])[-1]}
    return None


def check_answer_type(v: "TaskView", cfg: "TaskFormConfig") -> "Verdict":
    if v.task_type not in FREE_ANSWER_TYPES or not v.answer.strip():
        return None
    question = _question(v)
    if NEEDS_NUMBER.match(question) and not has_number(v.answer):
        return "answer_type_mismatch", {"expects": "number", "question_start": " ".join(question.split()[:3])}
    if NEEDS_TIME.match(question) and not has_time(v.answer):
        return "answer_type_mismatch", {"expects": "time", "question_start": " ".join(question.split()[:3])}
    return None


# A second question inside the first: a coordinator, then an auxiliary verb and its subject ("and does it").
# "has/have" are left out: "... and has a name" continues a predicate far more often than it asks again.
SECOND_QUESTION = re.compile(
    r"[,;]?\s+(?:and|or|but)\s+(?:is|are|was|were|does|do|did|can|could|will|would|should)\s+"
    r"(?:it|they|this|that|these|those|the|a|an|there|he|she|we|you)\b",
    re.I,
)
# A conjunction after one of these joins the conditions of one question ("Is X local if it is assigned
# in the function and is the name global?" asks once), so there only a comma before it marks a new question.
SUBORDINATOR = re.compile(r"\b(?:if|when|whenever|unless|while|because|since|although|though|that|which|who|whether|where|after|before|until)\b", re.I)


def check_double_barreled(v: "TaskView", cfg: "TaskFormConfig") -> "Verdict":
    if v.task_type != "yes-no question answering":
        return None
    question = _question(v)
    second = SECOND_QUESTION.search(question)
    if second is None or not INTERROGATIVE.match(question):
        return None
    if second.group()[0] not in ",;" and SUBORDINATOR.search(question[: second.start()]):
        return None
    return "double_barreled", {"second_question": question[second.start():].strip()[:80]}


def check_answer_in_question(v: "TaskView", cfg: "TaskFormConfig") -> "Verdict":
    if v.task_type not in FREE_ANSWER_TYPES:
        return None
    question = _question(v)
    if re.search(r"\bor\b", question, re.I):
        return None  # "Is it A or B?": the answer is one of the question's own words
    answer = {s for s in content_stems(v.answer) if s not in GENERIC_WORDS}
    if len(answer) < 2:
        return None  # one-word answers (a name, a number) are checked by the round-trip stage instead
    asked = set(content_stems(question))
    new = answer - asked
    if not new:
        return "answer_in_question", {"new_content_words": 0, "answer_content_words": len(answer)}
    return None


__all__ = ["check_answer_in_question", "check_answer_type", "check_double_barreled", "check_unfinished_question", "has_number", "has_time"]
