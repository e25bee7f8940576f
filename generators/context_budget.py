"""Token budgets: how much of a document fits in the model's context for one method's prompt.

A prompt must leave room for the completion: vLLM refuses a prompt of
`max_model_len` tokens or more, and a prompt that leaves fewer than
`max_tokens` for the reply gets a completion cut at the context's end. So a
method that embeds a document gets, for the document,

    budget = max_model_len - max_tokens - overhead - margin

tokens, where `overhead` is the method's prompt with an empty document
(chat template included), counted with the model's tokenizer, and `margin`
absorbs the few tokens that can merge across the document's edges.
Without a tokenizer, tokens are estimated as characters / `chars_per_token`;
without a known context length there is no budget (the engine's own refusal
then becomes a `prompt_too_long` reject).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MARGIN_TOKENS = 16
# A token is rarely longer than this many characters; documents are cut to budget x this before
# tokenizing, so a 10 MB file costs no more than one that just fits.
MAX_CHARS_PER_TOKEN = 64


def context_length(engine: Any) -> int | None:
    """The engine's context in tokens (`max_model_len`), or None when it does not say."""
    value = getattr(engine, "max_model_len", None)
    if value is None:
        value = getattr(getattr(engine, "settings", None), "max_model_len", None)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass
class Fitted:
    """A document cut to its budget. `text` is what the prompt embeds."""

    text: str
    tokens: int  # tokens of `text` (estimated without a tokenizer)
    truncated: bool
    original_chars: int

    def meta(self) -> dict[str, Any] | None:
        """What a record stores about the cut (None when the document was not cut)."""
        if not self.truncated:
            return None
        return {"kept_chars": len(self.text), "original_chars": self.original_chars, "kept_tokens": self.tokens}


class ContextBudget:
    """Counts tokens with the engine's tokenizer and cuts documents to fit one method's prompt."""

    def __init__(self, engine: Any, chars_per_token: float = 4.0, margin: int = MARGIN_TOKENS):
        self.max_model_len = context_length(engine)
        self.tokenizer = getattr(engine, "tokenizer", None)
        if self.tokenizer is not None and not callable(getattr(self.tokenizer, "encode", None)):
            self.tokenizer = None
        self.chars_per_token = chars_per_token
        self.margin = margin
        self._chat_cache: dict[str, int] = {}

    @property
    def exact(self) -> bool:
        return self.tokenizer is not None

    def count(self, text: str) -> float:
        """Tokens of `text`: exact with the tokenizer (no special tokens added), else len / chars_per_token."""
        if self.tokenizer is None:
            return len(text) / self.chars_per_token
        return len(self._encode(text))

    def _encode(self, text: str) -> list[int]:
        try:
            return list(self.tokenizer.encode(text, add_special_tokens=False))
        except TypeError:  # a minimal tokenizer without the keyword
            return list(self.tokenizer.encode(text))

    def count_messages(self, messages: list[dict[str, str]]) -> int:
        """Tokens of chat messages as the engine renders them (chat template, generation prompt)."""
        template = getattr(self.tokenizer, "apply_chat_template", None)
        if template is None or getattr(self.tokenizer, "chat_template", None) is None:
            return int(self.count("\n".join(m["content"] for m in messages))) + 4 * len(messages)
        return int(self.count(template(messages, tokenize=False, add_generation_prompt=True)))

    def document_budget(self, overhead_tokens: float, max_tokens: int) -> int | None:
        """Tokens left for the document; None when the context length is unknown."""
        if self.max_model_len is None:
            return None
        return int(self.max_model_len - max_tokens - overhead_tokens - self.margin)

    def fit(self, text: str, budget: int | None) -> Fitted:
        """`text` cut at a token boundary to at most `budget` tokens (whole text when it fits)."""
        if budget is None:
            return Fitted(text, self.count(text), False, len(text))
        budget = max(0, budget)
        head = text[: budget * MAX_CHARS_PER_TOKEN + 1]
        if self.tokenizer is None:
            cut = head[: int(budget * self.chars_per_token)]
            return Fitted(cut, int(self.count(cut)), len(cut) < len(text), len(text))
        ids = self._encode(head)
        if len(ids) <= budget and len(head) == len(text):
            return Fitted(text, len(ids), False, len(text))
        cut = self._prefix_chars(head, budget)
        return Fitted(cut, min(budget, int(self.count(cut))), True, len(text))

    def _prefix_chars(self, text: str, budget: int) -> str:
        """The longest prefix of `text` of at most `budget` tokens, cut where a token ends."""
        try:
            encoded = self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
            offsets = encoded["offset_mapping"]
        except (NotImplementedError, TypeError, KeyError, ValueError):  # slow tokenizers have no offsets
            return self.tokenizer.decode(self._encode(text)[:budget])
        if budget == 0 or not offsets:
            return ""
        return text[: offsets[min(budget, len(offsets)) - 1][1]]

