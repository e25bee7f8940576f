"""Multiple-choice checks of the task-form gate (filters/task_form.py CHECKS). [ours; issue 10]

- `answer_not_an_option`: fewer than two distinct options, or an answer that is
  neither an option's letter nor an option's text.
- `option_unsupported`: over a passage, the keyed option's content words are not
  in the passage while another option's all are, so the key is likely wrong
  ("Which is NOT ..." questions are exempt).

Options come from the Bonito fields (`options`, `answer`) or from `A. ...` lines
of the instruction (task_form.OPTION_LINE).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from filters.task_text import content_stems
from filters.text_views import norm

if TYPE_CHECKING:  # task_form imports this module: no import cycle at run time
    from filters.task_form import TaskFormConfig, TaskView, Verdict

ANSWER_LETTER = re.compile(r"^\W*([A-Ha-h])\b")


def check_options(v: "TaskView", cfg: "TaskFormConfig") -> "Verdict":
    if v.task_type != "multiple-choice question answering":
        return None
    if v.fields is not None:
        options, letter = list(v.fields.get("options") or []), str(v.fields.get("answer") or "")
    else:
        from filters.task_form import OPTION_LINE

        options = [text for _, text in OPTION_LINE.findall(v.instruction)]
        hit = ANSWER_LETTER.match(v.answer)
        letter = hit.group(1) if hit else ""
    normalized = [norm(o) for o in options]
    if len(options) < 2 or len(set(normalized)) < len(options):
        return "answer_not_an_option", {"options": len(options), "distinct": len(set(normalized))}
    index = "abcdefgh".find(letter.lower()) if letter else -1
    answer = norm(v.answer).rstrip(".")
    if not 0 <= index < len(options) and answer in normalized:
        index = normalized.index(answer)
    if not 0 <= index < len(options):
        return "answer_not_an_option", {"options": len(options), "answer": v.answer[:40]}
    return _option_support(v, options, index)


NEGATED_QUESTION = re.compile(r"\b(?:not|except|never|false|incorrect|untrue)\b", re.I)


def _option_support(v: "TaskView", options: list[str], index: int) -> "Verdict":
    """Over a passage, the keyed option should be what the passage says: when its content words are
    missing from the passage while another option's are all there, the key is wrong (a "which is
    NOT..." question is exempt)."""
    if not v.passage or NEGATED_QUESTION.search(v.task.split("\nOptions:")[0]):
        return None
    passage = content_stems(v.passage)

    def supported(option: str) -> bool:
        stems = content_stems(option)
        return bool(stems) and stems <= passage

    if supported(options[index]):
        return None
    others = [i for i, option in enumerate(options) if i != index and supported(option)]
    if others:
        return "option_unsupported", {"answer": options[index][:40], "supported_option": options[others[0]][:40]}
    return None


__all__ = ["ANSWER_LETTER", "check_options"]
