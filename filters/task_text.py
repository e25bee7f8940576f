"""Text helpers for the task-form gate: words, content words, n-grams, the generator's own prompt wording.

`template_ngrams(method)` finds a generator's prompt wording automatically: every
string constant (module level, or inside module-level dicts/lists/tuples) in the
package `generators.<method>` and what its `prompt_texts()` functions return,
cut at format placeholders, as word n-grams. Text a model copies from its own
prompt (hints, format instructions, demonstrations) then shows up as a long
n-gram shared with that set.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from functools import lru_cache
from typing import Any, Iterable

import snowballstemmer

WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?")
PLACEHOLDER_CUT = re.compile(r"\{\{?[^{}]*\}?\}|<\|[a-z]+\|>")

# Function words: a text ending in one is cut off mid-phrase; they carry no topic for grounding.
FUNCTION_WORDS = frozenset(
    """a an the and or but nor of to in on at by for with from into onto about as than that which who whom whose
    is are was were be been being has have had do does did will would shall should can could may might must
    this these those its their his her our your my if then so such very not no also each every any some""".split()
)
# Common words that say nothing about which passage a question is about.
GENERIC_WORDS = FUNCTION_WORDS | frozenset(
    """what when where why how does passage text following according above below mentioned describe described
    explain true false yes question answer based statement sentence one two used use using way best good new""".split()
)


def words(text: str) -> list[str]:
    return [w.lower() for w in WORD.findall(text)]


_STEMMER = snowballstemmer.stemmer("english")  # Porter's English (Snowball) stemmer


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """The English Snowball stem of a lower-case word: 'raise', 'raised' and 'raises' all give 'rais'."""
    return _STEMMER.stemWord(word)


def content_stems(text: str) -> set[str]:
    return {stem(w) for w in words(text) if len(w) > 2 and w not in GENERIC_WORDS}


def ngrams(tokens: list[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)}


def longest_shared_run(tokens: list[str], grams: set[tuple[str, ...]], n: int) -> tuple[int, str]:
    """Length (in words) of the longest run of `tokens` made of n-grams in `grams`, and that run."""
    best, best_at, run_start = 0, 0, None
    for i in range(len(tokens) - n + 1):
        if tuple(tokens[i : i + n]) in grams:
            run_start = i if run_start is None else run_start
            length = i + n - run_start
            if length > best:
                best, best_at = length, run_start
        else:
            run_start = None
    return best, " ".join(tokens[best_at : best_at + best])


def _strings(value: Any, depth: int = 0) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif depth < 4 and isinstance(value, dict):
        for item in value.values():
            yield from _strings(item, depth + 1)
    elif depth < 4 and isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item, depth + 1)


def template_texts(method: str) -> list[str]:
    """Every fixed string of the generator package `generators.<method>` (none if there is no such package)."""
    try:
        package = importlib.import_module(f"generators.{method}")
    except ImportError:
        return []
    modules = [package]
    for info in pkgutil.iter_modules(getattr(package, "__path__", [])):
        modules.append(importlib.import_module(f"{package.__name__}.{info.name}"))
    texts: list[str] = []
    for module in modules:
        for name, value in vars(module).items():
            if name.startswith("__"):
                continue
            if name == "prompt_texts" and callable(value):
                texts.extend(value())
            elif not callable(value) and not isinstance(value, type):
                texts.extend(_strings(value))
    return texts


@lru_cache(maxsize=32)
def template_ngrams(method: str, n: int) -> frozenset[tuple[str, ...]]:
    grams: set[tuple[str, ...]] = set()
    for text in template_texts(method):
        for piece in PLACEHOLDER_CUT.split(text):
            grams |= ngrams(words(piece), n)
    return frozenset(grams)
