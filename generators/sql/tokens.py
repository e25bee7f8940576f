"""Counting text in tokens of a model's tokenizer, loaded once per process.

`table_budget` is a number of tokens of the tokenizer the data is meant for:
`packaged:smollm2` (the default: SmolLM2-135M-Instruct's tokenizer) or any
Hugging Face model directory (or hub id already in the local cache). A
directory with a `tokenizer.json` is read with the `tokenizers` library
(fast, Rust); any other with `transformers.AutoTokenizer`.

The packaged tokenizer comes from the converted model directory when that
exists; otherwise only the tokenizer is extracted from the packaged GGUF
(about 20 s, once per machine) into the taskmill cache, so a run of SQL
tasks alone never converts the whole model.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Callable, Sequence

from taskmill import models

Counter = Callable[[Sequence[str]], list[int]]
PACKAGED = models.PACKAGED_GENERATOR
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model", "vocab.json")


def check_tokenizer_name(name: str) -> str:
    """Validate a `tokenizer` config value without loading it; raises ValueError saying what is wrong."""
    if name == PACKAGED:
        return name
    if name.startswith("packaged:"):
        raise ValueError(f"unknown packaged tokenizer {name!r}; allowed: {PACKAGED!r} or an HF model dir")
    path = Path(name).expanduser()
    if path.is_dir():
        if not any((path / f).is_file() for f in _TOKENIZER_FILES):
            raise ValueError(f"{name!r} has no tokenizer files (looked for {', '.join(_TOKENIZER_FILES)})")
        return name
    if name.count("/") == 1 and not name.startswith((".", "/", "~")):
        return name  # a hub id: resolved from the local HF cache when loaded (no network)
    raise ValueError(f"no directory at {name!r}; give {PACKAGED!r} or a Hugging Face model directory")


@functools.lru_cache(maxsize=4)
def token_counter(name: str) -> Counter:
    """A function: texts → token counts (no special tokens), for tokenizer `name`. Cached per process.

    Raises ValueError naming `tokenizer` when it cannot be loaded.
    """
    try:
        check_tokenizer_name(name)
        path = models.packaged_tokenizer_dir() if name == PACKAGED else str(Path(name).expanduser())
        if os.path.isfile(os.path.join(path, "tokenizer.json")):
            from tokenizers import Tokenizer

            fast = Tokenizer.from_file(os.path.join(path, "tokenizer.json"))
            # A tokenizer.json may carry padding/truncation settings (MiniLM pads to 128): count raw tokens.
            fast.no_padding()
            fast.no_truncation()
            encode = getattr(fast, "encode_batch_fast", fast.encode_batch)

            def count(texts: Sequence[str]) -> list[int]:
                return [len(e.ids) for e in encode(list(texts), add_special_tokens=False)]

            return count
        from transformers import AutoTokenizer

        slow = AutoTokenizer.from_pretrained(path)
    except (OSError, ValueError, ImportError) as error:
        hint = "or set budget_unit: chars to count characters"
        raise ValueError(f"tokenizer: cannot load {name!r}: {error}; {hint}") from error

    def count_slow(texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        encoded = slow(list(texts), add_special_tokens=False, padding=False, truncation=False)
        return [len(ids) for ids in encoded["input_ids"]]

    return count_slow


def char_counter(texts: Sequence[str]) -> list[int]:
    return [len(t) for t in texts]


def counter_for(unit: str, tokenizer: str) -> Counter:
    """The budget's unit: `tokens` of `tokenizer`, or `chars`."""
    return char_counter if unit == "chars" else token_counter(tokenizer)
