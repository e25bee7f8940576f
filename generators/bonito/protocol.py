"""The Bonito protocol: task types, exact prompt bytes, completion parsing, meta-templates.

These strings are a protocol shared with the fine-tuned Bonito models, so they
are reproduced exactly (spec §1). Bump `METHOD_VERSION` on any change to the
prompt bytes or the parsing rules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

METHOD_VERSION = "1"

TASKTYPE_MARKER = "<|tasktype|>"
CONTEXT_MARKER = "<|context|>"
TASK_MARKER = "<|task|>"
PIPE = "<|pipe|>"
CONTEXT_PLACEHOLDER = "{{context}}"

# Short code -> full name, frozen: the full names are what the model was trained on.
TASK_TYPES: dict[str, str] = {
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
FULL_NAMES = frozenset(TASK_TYPES.values())
CODE_OF = {full: code for code, full in TASK_TYPES.items()}

REJECT_CODES = ("no_pipe", "multiple_pipes")
STRICT_REJECT_CODES = ("empty_output", "missing_placeholder")


def resolve_task_type(task_type: str) -> str:
    """A full name is kept; a short code maps to its full name; anything else raises."""
    if task_type in FULL_NAMES:
        return task_type
    if task_type in TASK_TYPES:
        return TASK_TYPES[task_type]
    from taskmill.suggest import hint

    allowed = sorted(TASK_TYPES) + sorted(FULL_NAMES)
    raise ValueError(
        f"unknown Bonito task type {task_type!r}{hint(task_type, allowed)}; "
        f"allowed: the codes {', '.join(sorted(TASK_TYPES))}, or their full names (e.g. {TASK_TYPES['ynqa']!r})"
    )


def build_prompt(task_type: str, passage: str) -> str:
    """The byte-exact Bonito prompt; the markers are plain text, not special tokens."""
    full = resolve_task_type(task_type)
    return f"{TASKTYPE_MARKER}\n{full.strip()}\n{CONTEXT_MARKER}\n{passage.strip()}\n{TASK_MARKER}\n"


@dataclass(frozen=True)
class Parsed:
    """Either (instruction, output) or a reject code with detail."""

    instruction: str = ""
    output: str = ""
    reject: str | None = None
    detail: dict | None = None


def parse_prediction(prediction: str, passage: str, strict: bool = False) -> Parsed:
    """Split on the pipe marker; exactly two parts or a reject code.

    The reference's only quality control is this structural check; `strict`
    adds our two extra checks (an empty answer, an instruction that never
    refers to the passage).
    """
    parts = prediction.split(PIPE)
    if len(parts) < 2:
        return Parsed(reject="no_pipe", detail={"pipes": 0})
    if len(parts) > 2:
        return Parsed(reject="multiple_pipes", detail={"pipes": len(parts) - 1})
    context = passage.strip()
    raw_instruction, raw_output = parts[0].strip(), parts[1].strip()
    if strict and not raw_output:
        return Parsed(reject="empty_output", detail={})
    if strict and CONTEXT_PLACEHOLDER not in raw_instruction:
        return Parsed(reject="missing_placeholder", detail={})
    return Parsed(
        instruction=raw_instruction.replace(CONTEXT_PLACEHOLDER, context),
        output=raw_output.replace(CONTEXT_PLACEHOLDER, context),
    )


# --- retraining data: turning a source template into a (Bonito prompt, target) pair ---

_TEMPLATE_SPLIT = "|||"
_PIPE_TOKEN = "\n[pipe]\n"


def meta_template_pair(
    template: str, context_expr: str, example: dict, task_type: str
) -> tuple[str, str] | None:
    """One training pair for a Bonito model from a Jinja source template and one example.

    The context expression (e.g. `{{premise}}`, matched whitespace-tolerantly)
    becomes the literal `{{context}}` placeholder; the passage itself is
    recovered by rendering the expression in front of the template. Returns
    None when the template has no `|||` split, the context expression is not
    in it, or the rendered answer is empty.
    """
    import jinja2

    match = re.fullmatch(r"\{\{\s*(.+?)\s*\}\}", context_expr.strip())
    if not match or _TEMPLATE_SPLIT not in template:
        return None
    expr_pattern = r"\{\{\s*" + re.escape(match.group(1)) + r"\s*\}\}"
    if not re.search(expr_pattern, template):
        return None
    body = re.sub(expr_pattern, lambda _m: "{{ copy_context }}", template)
    body = body.replace(_TEMPLATE_SPLIT, _PIPE_TOKEN)
    env = jinja2.Environment(keep_trailing_newline=True, undefined=jinja2.StrictUndefined)
    # The reference renders "{context_expr}|||{body}" and splits on "|||"; rendering the
    # two halves apart gives the same text and survives a passage that contains "|||".
    context = env.from_string(context_expr).render(**example)
    task = env.from_string(body).render(**example, copy_context=CONTEXT_PLACEHOLDER)
    pieces = [p.strip() for p in task.split(_PIPE_TOKEN)]
    if len(pieces) != 2 or not pieces[1]:
        return None
    task_input, task_output = pieces
    return build_prompt(task_type, context), f"{task_input}\n{PIPE}\n{task_output}"
