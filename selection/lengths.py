"""Token lengths of exported records, as a trainer will see them.

A record's length is the number of tokens of its whole conversation rendered
with the tokenizer's chat template (system prompt the template adds included):
that is the sequence TRL's SFTTrainer tokenizes and cuts at `max_length`
(1024 by default in TRL), for `messages` and for `prompt_completion` rows
(prompt + completion). Alpaca and ShareGPT rows hold the same conversation,
so their counts are the same up to LLaMA-Factory's own template.

The tokenizer is the run's model's (`engine.name`) when it is a local model
or the packaged SmolLM2, else SmolLM2-135M-Instruct's; `export.tokenizer`
overrides it. Percentiles use the nearest-rank rule, so every figure is the
length of a real record.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Sequence

import numpy as np

BATCH = 512  # conversations rendered and tokenized per call (the fast tokenizer batches in Rust)


@dataclass
class TokenCounter:
    """Counts chat-template tokens of conversations; `name` says which tokenizer was used and why."""

    tokenizer: Any
    name: str

    def count(self, conversations: Sequence[list[dict]]) -> np.ndarray:
        """(n,) int64 token counts of the conversations (lists of {role, content} with str content)."""
        counts = np.zeros(len(conversations), dtype=np.int64)
        has_template = bool(getattr(self.tokenizer, "chat_template", None))
        for start in range(0, len(conversations), BATCH):
            batch = [list(c) for c in conversations[start : start + BATCH]]
            if has_template:
                texts = self.tokenizer.apply_chat_template(batch, tokenize=False)
            else:  # a base model without a chat template: the turns joined by newlines
                texts = ["\n".join(m["content"] for m in c) for c in batch]
            ids = self.tokenizer(texts, add_special_tokens=not has_template)["input_ids"]
            counts[start : start + len(batch)] = [len(x) for x in ids]
        return counts


def _packaged_smollm2():
    # PreTrainedTokenizerFast, not AutoTokenizer: the same tokenizer.json and chat template (same
    # counts), without AutoTokenizer's imports of torch and the model registry (~4x the load time;
    # every run's export pays it, a resumed one too: bench/resume.py).
    from transformers import PreTrainedTokenizerFast

    from taskmill import models

    # the converted model's tokenizer, or the one extracted from the GGUF (no model conversion needed)
    return PreTrainedTokenizerFast.from_pretrained(models.packaged_tokenizer_dir(), local_files_only=True)


@lru_cache(maxsize=4)
def token_counter(name: str | None = None, strict: bool = False) -> TokenCounter:
    """A TokenCounter for `name` (an HF model dir, a hub name in the local cache, or packaged:smollm2).

    A name with no local tokenizer (e.g. a model only an OpenAI-compatible server
    has) falls back to SmolLM2's, and the returned name says so; with `strict`
    (a tokenizer the user named) it raises ValueError instead.
    """
    from taskmill.models import PACKAGED_GENERATOR, PACKAGED_GENERATOR_NAME

    fallback_note = ""
    if name and name != PACKAGED_GENERATOR:
        from transformers import AutoTokenizer

        try:
            return TokenCounter(AutoTokenizer.from_pretrained(name, local_files_only=True), name)
        except Exception as err:  # transformers raises OSError, ValueError, KeyError... for unusable dirs
            if strict:
                raise ValueError(f"export.tokenizer: cannot load a local tokenizer from {name!r}: {err}") from None
            fallback_note = f" (no local tokenizer for {name!r}: {type(err).__name__})"
    return TokenCounter(_packaged_smollm2(), f"{PACKAGED_GENERATOR_NAME}{fallback_note}")


def percentiles(counts: Sequence[int] | np.ndarray) -> dict[str, int]:
    """{records, p50, p90, p99, max} of token counts (nearest rank); zeros for no records."""
    counts = np.asarray(counts, dtype=np.int64)
    if counts.size == 0:
        return {"records": 0, "p50": 0, "p90": 0, "p99": 0, "max": 0}
    p50, p90, p99 = np.percentile(counts, [50, 90, 99], method="inverted_cdf")
    return {"records": int(counts.size), "p50": int(p50), "p90": int(p90), "p99": int(p99), "max": int(counts.max())}


def over_limit(counts: np.ndarray, max_tokens: int | None) -> np.ndarray:
    """Boolean mask of the counts above `max_tokens` (none when it is None)."""
    if max_tokens is None:
        return np.zeros(len(counts), dtype=bool)
    return np.asarray(counts) > max_tokens
