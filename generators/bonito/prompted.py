"""Prompted Bonito mode: ask any instruct model for the same (instruction, response) pair.

A Bonito model learned the protocol; an instruct model needs to be told.
These chat messages are our own wording. The reply is brought back to the
protocol's form (`instruction <|pipe|> response`) so that the exact same
parser runs in both modes and kept records cannot be told apart.
"""

from __future__ import annotations

import json

from generators.bonito.protocol import CONTEXT_PLACEHOLDER, PIPE, Parsed

# One line per task type telling the model what a good instance looks like.
TASK_HINTS: dict[str, str] = {
    "extractive question answering": "a question whose answer is a span copied word for word from the passage",
    "multiple-choice question answering": (
        "a question about the passage with lettered options; the response is the right option"
    ),
    "question generation": "a request to write a question that the passage answers; the response is that question",
    "question answering without choices": "a question about the passage answered in a short free-form phrase",
    "yes-no question answering": "a yes/no question about the passage; the response is Yes or No",
    "coreference resolution": "a question asking what a pronoun or phrase in the passage refers to",
    "paraphrase generation": "a request to restate a sentence of the passage in other words",
    "paraphrase identification": (
        "two sentences and the question whether they mean the same; the response is Yes or No"
    ),
    "sentence completion": "the start of a sentence drawn from the passage; the response completes it",
    "sentiment": "a question about the attitude the passage expresses; the response is positive, negative or neutral",
    "summarization": "a request to summarize the passage; the response is a short summary",
    "text generation": "a request to continue or build on the passage; the response is the new text",
    "topic classification": "a question asking which topic the passage belongs to, with a few candidate topics",
    "word sense disambiguation": "a question about the meaning of one word as it is used in the passage",
    "textual entailment": "a statement and the question whether the passage implies it",
    "natural language inference": "a hypothesis and the question whether the passage entails, contradicts or is neutral to it",
}

SYSTEM_PROMPT = (
    "You write training examples for language models. Given a passage and a task type, "
    "you write one task instance about the passage: an instruction and its correct response."
)

# maxLength keeps a rambling small model from running past max_tokens (256 by default)
# with the JSON still open, which would be a malformed_json reject.
RESPONSE_SCHEMA: dict = {
    "type": "object",
    "properties": {"instruction": {"type": "string", "maxLength": 400}, "response": {"type": "string", "maxLength": 300}},
    "required": ["instruction", "response"],
    "additionalProperties": False,
}


def build_messages(task_type_full: str, passage: str, reply_format: str) -> list[dict[str, str]]:
    """Chat messages asking for one instance; `reply_format` is "json" or "pipe"."""
    hint = TASK_HINTS[task_type_full]
    if reply_format == "json":
        how = 'Reply with a JSON object with two string fields, "instruction" and "response", and nothing else.'
    else:
        how = (
            f"Write the instruction, then a line containing only {PIPE}, then the response. "
            "Write nothing before or after them."
        )
    user = (
        f"Task type: {task_type_full}\n"
        f"A good instance is {hint}.\n\n"
        f"Passage:\n{passage.strip()}\n\n"
        f"Write one {task_type_full} instance about this passage. In the instruction, write "
        f"{CONTEXT_PLACEHOLDER} exactly where the whole passage should be shown to the reader; "
        "do not copy the passage yourself. Then give the correct response.\n"
        f"{how}"
    )
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]


def json_to_prediction(text: str) -> tuple[str | None, Parsed | None]:
    """A structured reply in protocol form, or a `malformed_json` reject.

    Structured output guarantees valid JSON only when the reply is not cut
    off by max_tokens, so a truncated or off-schema reply is a reject.
    """
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, Parsed(reject="malformed_json", detail={"error": str(exc)[:200]})
    fields_ok = isinstance(obj, dict) and all(isinstance(obj.get(k), str) for k in ("instruction", "response"))
    if not fields_ok:
        return None, Parsed(reject="malformed_json", detail={"error": "missing instruction/response strings"})
    return f"{obj['instruction']}\n{PIPE}\n{obj['response']}", None


def prompt_texts() -> list[str]:
    """The fixed wording these prompts show the model (for the leak check in filters/task_form.py)."""
    texts = []
    for task_type in TASK_HINTS:
        for reply_format in ("json", "pipe"):
            texts += [m["content"] for m in build_messages(task_type, "\x00", reply_format)]
    return [piece for text in texts for piece in text.split("\x00")]
