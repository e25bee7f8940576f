"""Rule filters for short instruction/response records (spec §1, F1–F14).

Web-page heuristics (minimum word counts, stop-word ratios, ...) reject valid
short answers such as "4" or "No.", so none are used. Each rule answers None
(keep) or a (reason, detail) pair; rules run in the spec's table order and
the first failure wins unless `all_reasons` is set.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from filters.normalize import symbol_ratio
from filters.text_views import norm, prompt_view, response_view

Verdict = tuple[str, dict[str, Any]] | None

TEMPLATE_LEAK = re.compile(r"<\|(?:tasktype|context|task|pipe)\|>|\{\{context\}\}|\[input\]\s*=")
COI_LEAK = re.compile(r"Task \d+ output")
ROLE_LINE = re.compile(r"^\s*(?:USER:|ASSISTANT:|### Instruction|### Response)", re.MULTILINE)
CHAT_TOKENS = ("<|im_start|>", "<|im_end|>", "[INST]", "[/INST]")
# C0 controls other than \t \n \r, plus the replacement character left by bad decoding
BAD_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffd]")
WORD_OR_PUNCT = re.compile(r"\w+|[^\w\s]")

# Our own phrase lists (not copied from any project).
PLEASANTRIES = (
    "Sure!", "Sure,", "Sure thing", "Certainly!", "Certainly,", "Of course!", "Of course,", "Absolutely!",
    "Great question", "Good question", "I'd be happy to", "I would be happy to", "Happy to help", "I'd be glad to",
)
REFUSALS = (
    r"\bas an ai\b", r"\bas a(?:n ai)? language model\b", r"\bi(?:'m| am) (?:just )?an ai\b",
    r"\bi(?:'m| am) sorry,? but i (?:can(?:not|'t)|won't|am unable|'m unable)\b",
    r"\bi (?:can(?:not|'t)|won't) (?:help|assist|comply|provide|fulfill)\b",
    r"\bi(?:'m| am) (?:unable|not able) to (?:help|assist|comply|provide|fulfill)\b",
    r"\bi do(?:n't| not) have (?:personal )?(?:opinions|feelings|access to real-time)\b",
    r"\bmy (?:knowledge cutoff|training data)\b",
)


class RulesConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool = True
    all_reasons: bool = False
    # F3: token bounds (target tokenizer; None = word/punctuation tokens) and character bounds
    tokenizer: str | None = None
    max_prompt_tokens: int = Field(4096, ge=1)
    max_response_tokens: int = Field(4096, ge=1)
    max_seq_len: int = Field(8192, ge=1)
    max_prompt_chars: int = Field(65536, ge=1)
    max_response_chars: int = Field(65536, ge=1)
    min_prompt_chars: int = Field(0, ge=0)
    min_response_chars: int = Field(0, ge=0)
    truncated: bool = True  # F2
    template_leak: bool = True  # F4
    coi_methods: list[str] = ["chain", "coi", "sifo_chain"]  # methods whose records legitimately say "Task N output"
    role_leak: bool = True  # F5
    echo: bool = True  # F6
    chatter: bool = False  # F7: on inside Self-Guide
    chatter_match: Literal["prefix", "anywhere"] = "anywhere"  # "anywhere" is Self-Guide parity
    refusal: bool = True  # F8: turn off for safety data
    symbol_max: float = Field(0.25, ge=0, le=1)  # F9
    symbol_min_chars: int = Field(20, ge=0)
    trigram_dup_max: float = Field(0.5, ge=0, le=1)  # F10a
    trigram_min_words: int = Field(30, ge=3)
    # F10c: share of the response's characters inside repeats of a word n-gram already said (clause-level
    # loops that trigrams miss in a short text); Rae et al. 2021 (Gopher), Table A1 "duplicate n-gram fraction".
    dup_ngram_n: int = Field(5, ge=2)
    dup_ngram_max: float = Field(0.3, ge=0, le=1)  # pydoc prose peaks at 0.26 (1134 paragraphs), BNF/code at 0.38
    dup_ngram_min_words: int = Field(20, ge=2)
    line_dup_max: float = Field(0.3, ge=0, le=1)  # F10b
    line_min: int = Field(4, ge=1)
    long_token: int = Field(1000, ge=1)  # F11
    bad_unicode: bool = True  # F12
    unbalanced_fence: bool = True  # F13
    expected_lang: str | None = None  # F14 (py3langid); None = off
    lang_min_prob: float = Field(0.5, ge=0, le=1)
    lang_min_chars: int = Field(20, ge=0)


@lru_cache(maxsize=4)
def _hf_tokenizer(name: str):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(name, local_files_only=True)


@lru_cache(maxsize=1)
def _lang_identifier():
    try:
        from py3langid.langid import MODEL_FILE, LanguageIdentifier
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise RuntimeError("rules.expected_lang needs the py3langid package") from err
    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


@lru_cache(maxsize=16)
def _long_run(limit: int) -> re.Pattern:
    return re.compile(r"\S{%d,}" % (limit + 1))


def count_tokens(text: str, tokenizer: str | None) -> int:
    if tokenizer is None:
        return len(WORD_OR_PUNCT.findall(text))
    return len(_hf_tokenizer(tokenizer)(text, add_special_tokens=False)["input_ids"])


def non_alnum_ratio(text: str) -> tuple[float, int]:
    """F9's (symbol ratio, non-space chars): filters.normalize.symbol_ratio (marks are letter parts)."""
    return symbol_ratio(text)


def trigram_dup_fraction(text: str) -> tuple[float, int]:
    words = text.split()
    grams = list(zip(words, words[1:], words[2:]))
    if not grams:
        return 0.0, len(words)
    return 1 - len(set(grams)) / len(grams), len(words)


def dup_ngram_char_fraction(text: str, n: int) -> float:
    """Share (0..1) of the text's word characters inside a word n-gram that already occurred earlier.

    After Rae et al. 2021 (Gopher), App. A / Table A1 "fraction of characters in duplicate n-grams",
    with one change for short texts: a first occurrence is not counted, only its repeats, so a
    phrase said once more in a 40-word answer costs its own length, not twice that.
    Words are whitespace tokens compared lower-cased without surrounding punctuation.
    """
    tokens = [w.strip(".,;:!?\"'()[]‘’“”").lower() for w in text.split()]
    total = sum(len(w) for w in tokens)
    if len(tokens) < n or not total:
        return 0.0
    seen: set[tuple[str, ...]] = set()
    repeated = [False] * len(tokens)
    for i in range(len(tokens) - n + 1):
        gram = tuple(tokens[i : i + n])
        if gram in seen:
            repeated[i : i + n] = [True] * n
        seen.add(gram)
    return sum(len(w) for w, r in zip(tokens, repeated) if r) / total


def line_dup_fraction(text: str) -> tuple[float, int]:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return 0.0, 0
    return 1 - len(set(lines)) / len(lines), len(lines)


def _valid_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: not representable as UTF-8
        return False
    return True


def check_record(record: dict, cfg: RulesConfig) -> list[tuple[str, dict[str, Any]]]:
    """All failing rules in table order (just the first unless cfg.all_reasons)."""
    prompt, response = prompt_view(record), response_view(record)
    failures: list[tuple[str, dict[str, Any]]] = []
    for rule in _RULES:
        verdict = rule(record, prompt, response, cfg)
        if verdict is not None:
            failures.append(verdict)
            if not cfg.all_reasons:
                break
    return failures


def _f1_empty(record, prompt, response, cfg) -> Verdict:
    if not prompt.strip():
        return "empty_prompt", {}
    if not response.strip():
        return "empty_response", {}
    return None


def _f2_truncated(record, prompt, response, cfg) -> Verdict:
    if cfg.truncated and record.get("finish_reason") == "length":
        return "truncated", {"finish_reason": "length"}
    return None


def _f3_length(record, prompt, response, cfg) -> Verdict:
    for field, text, low, high in (
        ("prompt", prompt, cfg.min_prompt_chars, cfg.max_prompt_chars),
        ("response", response, cfg.min_response_chars, cfg.max_response_chars),
    ):
        if len(text) > high:
            return "too_long", {"field": field, "chars": len(text), "max": high}
        if len(text) < low:
            return "too_short", {"field": field, "chars": len(text), "min": low}
    if cfg.tokenizer is None and len(prompt) <= cfg.max_prompt_tokens and len(response) <= cfg.max_response_tokens \
            and len(prompt) + len(response) <= cfg.max_seq_len:
        return None  # word/punctuation tokens never outnumber characters
    prompt_tokens = count_tokens(prompt, cfg.tokenizer)
    response_tokens = count_tokens(response, cfg.tokenizer)
    if prompt_tokens > cfg.max_prompt_tokens:
        return "too_long", {"field": "prompt", "tokens": prompt_tokens, "max": cfg.max_prompt_tokens}
    if response_tokens > cfg.max_response_tokens:
        return "too_long", {"field": "response", "tokens": response_tokens, "max": cfg.max_response_tokens}
    if prompt_tokens + response_tokens > cfg.max_seq_len:
        return "too_long", {"field": "sequence", "tokens": prompt_tokens + response_tokens, "max": cfg.max_seq_len}
    return None


def _f4_template_leak(record, prompt, response, cfg) -> Verdict:
    if not cfg.template_leak:
        return None
    coi = record.get("method") in cfg.coi_methods
    for field, text in (("prompt", prompt), ("response", response)):
        if "<|" not in text and "{{" not in text and "[input]" not in text and "Task " not in text:
            continue
        hit = TEMPLATE_LEAK.search(text) or (None if coi else COI_LEAK.search(text))
        if hit:
            return "template_leak", {"field": field, "match": hit.group(0)}
    return None


def _f5_role_leak(record, prompt, response, cfg) -> Verdict:
    if not cfg.role_leak:
        return None
    hit = ROLE_LINE.search(response) if ("USER:" in response or "ASSISTANT:" in response or "### " in response) else None
    if hit:
        return "role_leak", {"match": hit.group(0).strip()}
    for token in CHAT_TOKENS:
        if token in response:
            return "role_leak", {"match": token}
    return None


def _f6_echo(record, prompt, response, cfg) -> Verdict:
    if cfg.echo and norm(response) == norm(prompt):
        return "echo", {}
    return None


def _f7_chatter(record, prompt, response, cfg) -> Verdict:
    if not cfg.chatter:
        return None
    for phrase in PLEASANTRIES:
        if response.startswith(phrase) if cfg.chatter_match == "prefix" else phrase in response:
            return "chatter", {"match": phrase}
    return None


_REFUSAL_RE = re.compile("|".join(REFUSALS))
# every refusal pattern contains one of these: a cheap test before the regex
_REFUSAL_TRIGGERS = ("as a", "i'm", "i am", "i can", "i won", "i do", "my knowledge", "my training")


def _f8_refusal(record, prompt, response, cfg) -> Verdict:
    if not cfg.refusal:
        return None
    lowered = norm(response).replace("\u2019", "'")  # the shared comparison form: case, width, invisibles
    if not any(trigger in lowered for trigger in _REFUSAL_TRIGGERS):
        return None
    hit = _REFUSAL_RE.search(lowered)
    return ("refusal", {"match": hit.group(0)}) if hit else None


_NUMERIC_CHARS = frozenset("0123456789.,-+%eE \t\n")


def _f9_symbols(record, prompt, response, cfg) -> Verdict:
    if "```" in response:  # code blocks are legitimately symbol-heavy
        return None
    if set(response) <= _NUMERIC_CHARS:  # a list of numbers (e.g. a table answer "46, 52, 54") is data, not noise
        return None
    if len(response) < cfg.symbol_min_chars:
        return None
    # separators between two digits (2016-12-31 23:00:00+00:00, 1,234.5) and
    # combining marks (Indic vowel signs) are not symbols: see filters.normalize.symbol_ratio
    ratio, chars = symbol_ratio(response)
    if chars >= cfg.symbol_min_chars and ratio > cfg.symbol_max:
        return "symbol_heavy", {"non_alnum_ratio": round(ratio, 4)}
    return None


def _f10_repetition(record, prompt, response, cfg) -> Verdict:
    # A chain transcript restates the text once per step by design: judge each step's line on its own.
    for part in response.splitlines() if record.get("method") in cfg.coi_methods else [response]:
        if len(part.split()) >= cfg.trigram_min_words:
            fraction, _ = trigram_dup_fraction(part)
            if fraction > cfg.trigram_dup_max:
                return "repetitive", {"trigram_dup_fraction": round(fraction, 4)}
        if len(part.split()) >= cfg.dup_ngram_min_words:
            share = dup_ngram_char_fraction(part, cfg.dup_ngram_n)
            if share > cfg.dup_ngram_max:
                return "repetitive", {"dup_ngram_char_fraction": round(share, 4), "n": cfg.dup_ngram_n}
    if len(response.splitlines()) < cfg.line_min:
        return None
    fraction, lines = line_dup_fraction(response)
    if lines >= cfg.line_min and fraction > cfg.line_dup_max:
        return "repetitive", {"line_dup_fraction": round(fraction, 4)}
    return None


def _f11_long_token(record, prompt, response, cfg) -> Verdict:
    pattern = _long_run(cfg.long_token)
    for field, text in (("prompt", prompt), ("response", response)):
        hit = pattern.search(text)
        if hit:
            return "long_token", {"field": field, "run_chars": len(hit.group(0))}
    return None


def _f12_bad_unicode(record, prompt, response, cfg) -> Verdict:
    if not cfg.bad_unicode:
        return None
    for field, text in (("prompt", prompt), ("response", response)):
        hit = BAD_CHARS.search(text)
        if hit:
            return "bad_unicode", {"field": field, "char": f"U+{ord(hit.group(0)):04X}"}
        if not text.isascii() and not _valid_utf8(text):
            return "bad_unicode", {"field": field, "char": "surrogate"}
    return None


def _f13_fence(record, prompt, response, cfg) -> Verdict:
    if cfg.unbalanced_fence and response.count("```") % 2 == 1:
        return "unbalanced_fence", {"fences": response.count("```")}
    return None


def _f14_language(record, prompt, response, cfg) -> Verdict:
    if cfg.expected_lang is None:
        return None
    identifier = _lang_identifier()
    for field, text in (("prompt", prompt), ("response", response)):
        if len(text) < cfg.lang_min_chars:
            continue
        label, prob = identifier.classify(text)
        if label != cfg.expected_lang or prob < cfg.lang_min_prob:
            return "wrong_language", {"field": field, "label": label, "prob": round(float(prob), 4)}
    return None


_RULES = (
    _f1_empty, _f2_truncated, _f3_length, _f4_template_leak, _f5_role_leak, _f6_echo, _f7_chatter,
    _f8_refusal, _f9_symbols, _f10_repetition, _f11_long_token, _f12_bad_unicode, _f13_fence, _f14_language,
)
