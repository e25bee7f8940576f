"""Round-trip consistency: re-answer each generated question and keep it only if the answers agree.

Source: Alberti, Andor, Pitler, Devlin, Collins (2019), "Synthetic QA Corpora
Generation with Roundtrip Consistency", ACL, §2: a generated (passage,
question, answer) triple is kept only when a QA model given the passage and
the question recovers the generated answer. The paper compares extractive
spans by exact match; taskmill's generated answers are free text, so free
answers are compared by SQuAD-normalized token F1 (Rajpurkar et al., 2016,
§2 evaluation script: lower case, no punctuation or articles) against
`threshold`, and yes/no, multiple-choice and label answers as labels (the
re-answer is constrained to the label set with structured output).

The re-answer comes from an engine (the run's own, or another model through
the OpenAI backend), greedy (temperature 0) with a per-record seed. Each
checked record gets `meta.roundtrip = {"kind", "answer", "score", "model"}`;
a record below the threshold is rejected as `roundtrip_disagree` with the
score in its reject detail. Records that are not QA-like (summaries, free
generation) are passed through unchecked: there is no one right answer to
recover. Shapes: `roundtrip_records(records, engine, cfg, run_seed)` →
(kept, rejected, stats); raises RuntimeError when the engine returns a
different number of results than requests.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from typing import Any, Literal

from pydantic import ConfigDict, Field

from filters.task_form import LABELS, OPTION_LINE, QA_TYPES, YES_NO_TYPES
from filters.text_views import prompt_view
from taskmill.engine.base import Engine, GenerationRequest
from taskmill.engine.settings import EngineSettings
from taskmill.records import derive_seed, reject
from taskmill.switchable import Switchable

STAGE = "roundtrip"
MULTIPLE_CHOICE = "multiple-choice question answering"
# Free-text QA types whose answer is recoverable from the passage (others, like summaries, are skipped).
TEXT_QA_TYPES = frozenset(QA_TYPES - YES_NO_TYPES - {MULTIPLE_CHOICE})
LETTERS = "ABCDEFGH"

SYSTEM = (
    "Answer the request using only the text it gives. Reply with the answer alone: a few words, "
    "a number, yes or no, or the letter of an option. No explanation."
)


class RoundtripConfig(Switchable):  # `roundtrip: false` turns it off
    model_config = ConfigDict(extra="forbid")
    # On by default: without it the gate keeps answers the model got wrong (check set: precision 0.78 off,
    # 0.91 on; bench/quality.py). Costs one short greedy request per checked record, on the run's engine.
    enabled: bool = True
    engine: EngineSettings | None = None  # None: the run's engine
    # generator methods (not stage names) whose answers a model wrote; a misspelt one switched the check off
    methods: list[Literal["bonito", "self_guide"]] = ["bonito", "self_guide"]
    # token F1 at or above which free answers agree; 0.75 was chosen on the tune half of the labelled check set
    # (bench/quality.py, packaged 135M model re-answering with DEMOS). A generator that writes long answers
    # scores lower F1 against a few-word re-answer for the same fact: lower it for such a generator.
    threshold: float = Field(0.75, ge=0, le=1)
    short_label_words: int = Field(3, ge=1)  # Self-Guide outputs this short are compared as labels
    max_tokens: int = Field(48, ge=4)
    max_chars: int = Field(6000, ge=200)  # prompt text shown to the re-answering model
    on_error: Literal["reject", "keep"] = "keep"  # a failed request: keep the record unchecked, or reject it
    batch_size: int = Field(256, ge=1)

    def applies(self, methods: list[str]) -> bool:
        """On, and some generator method of the run writes answers it checks."""
        return self.enabled and any(method in self.methods for method in methods)


# --- answer normalization (SQuAD's evaluation script, re-implemented) -----------------------------------
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans("", "", string.punctuation + "“”‘’–—…")
_ANSWER_PREFIX = re.compile(r"^\s*(?:the\s+)?(?:correct\s+)?(?:answer|response)\s*(?:is)?\s*[:\-]?\s*", re.I)


def normalize_answer(text: str) -> str:
    text = _ANSWER_PREFIX.sub("", str(text or "")).lower().translate(_PUNCT)
    return " ".join(_ARTICLES.sub(" ", text).split())


def token_f1(prediction: str, reference: str) -> float:
    """SQuAD token F1 between two answers (0..1); 1.0 when both normalize to nothing."""
    pred, ref = normalize_answer(prediction).split(), normalize_answer(reference).split()
    if not pred or not ref:
        return float(pred == ref)
    common = sum((Counter(pred) & Counter(ref)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def first_label(text: str, labels: tuple[str, ...]) -> str | None:
    """The label an answer starts with ("Yes, because ..." → "yes"), by normalized prefix; None if none."""
    norm = normalize_answer(text)
    for label in sorted(labels, key=len, reverse=True):
        if norm == label or norm.startswith(label + " "):
            return label
    return None


def _options(record: dict) -> list[str]:
    fields = (record.get("meta") or {}).get("fields")
    if isinstance(fields, dict) and isinstance(fields.get("options"), list):
        return [str(o) for o in fields["options"]]
    return [text for _, text in OPTION_LINE.findall(str(record.get("instruction") or ""))]


def _option_letter(answer: str, options: list[str]) -> str | None:
    hit = re.match(r"^\W*([A-Ha-h])(?:\W|$)", answer)
    if hit and "ABCDEFGH".index(hit.group(1).upper()) < len(options):
        return hit.group(1).upper()
    norm = normalize_answer(answer)
    for letter, option in zip(LETTERS, options):
        if norm and norm == normalize_answer(option):
            return letter
    return None


def plan(record: dict, cfg: RoundtripConfig) -> dict[str, Any] | None:
    """How one record is checked: {"kind": "label"|"text", "choices"?, "reference"}; None = not checked."""
    if record.get("method") not in cfg.methods:
        return None
    meta = record.get("meta") or {}
    answer = str(record.get("output") or "")
    task_type = meta.get("task_type")
    if task_type == MULTIPLE_CHOICE:
        options = _options(record)
        letter = _option_letter(answer, options)
        if len(options) < 2 or letter is None:
            return None  # the task-form gate rejects answers that are not an option
        return {"kind": "label", "choices": list(LETTERS[: len(options)]), "reference": letter}
    if task_type in YES_NO_TYPES or task_type in LABELS:
        labels = ("yes", "no") if task_type in YES_NO_TYPES else LABELS[task_type]
        label = first_label(answer, labels)
        if label is None:
            return None
        choices = ["yes", "no"] if task_type in YES_NO_TYPES else list(dict.fromkeys(LABELS[task_type][:3]))
        return {"kind": "label", "choices": choices, "reference": label}
    if task_type in TEXT_QA_TYPES:
        return {"kind": "text", "reference": answer}
    if task_type is None and record.get("method") == "self_guide":
        if len(answer.split()) <= cfg.short_label_words:
            return {"kind": "exact", "reference": answer}  # a label or short answer: must match exactly
        return {"kind": "text", "reference": answer}
    return None


# Our own demonstrations: short answers, so that a small model does not restate the question (which
# would lower token F1 for a right answer). One free answer and one label.
DEMOS = (
    (
        "The lighthouse on the north cape was built in 1852 from local granite and was automated in 1976.\n\n"
        "Question: What was the lighthouse built from?",
        "Local granite",
    ),
    (
        "The lighthouse on the north cape was built in 1852 from local granite and was automated in 1976.\n\n"
        "Question: Was the lighthouse automated before 1900?\n\nAnswer with one of: yes, no.",
        "no",
    ),
)


def request_for(record: dict, how: dict[str, Any], cfg: RoundtripConfig, run_seed: int) -> GenerationRequest:
    user = prompt_view(record)[: cfg.max_chars]
    if how["kind"] == "label":
        user += "\n\nAnswer with one of: " + ", ".join(how["choices"]) + "."
    demos = [turn for ask, reply in DEMOS for turn in ({"role": "user", "content": ask}, {"role": "assistant", "content": reply})]
    return GenerationRequest(
        messages=[{"role": "system", "content": SYSTEM}, *demos, {"role": "user", "content": user}],
        temperature=0.0, max_tokens=cfg.max_tokens, seed=derive_seed(run_seed, STAGE, record["id"]),
        choices=how.get("choices"), stop=None if how["kind"] == "label" else ["\n\n"],
    )  # fmt: skip


def agreement(how: dict[str, Any], reanswer: str) -> float:
    """1/0 for labels and exact answers, token F1 for free text."""
    if how["kind"] in ("label", "exact"):
        return float(normalize_answer(reanswer) == normalize_answer(how["reference"]))
    return token_f1(reanswer, how["reference"])


def roundtrip_records(records: list[dict], engine: Engine, cfg: RoundtripConfig, run_seed: int = 0) -> tuple[list[dict], list[dict], dict]:
    """(kept, rejected, stats): records in input order, the checked ones with meta.roundtrip set."""
    kept: list[dict] = []
    rejected: list[dict] = []
    stats: Counter = Counter()
    for start in range(0, len(records), cfg.batch_size):
        batch = records[start : start + cfg.batch_size]
        plans = [plan(r, cfg) for r in batch]
        checked = [(r, how) for r, how in zip(batch, plans) if how is not None]
        requests = [request_for(r, how, cfg, run_seed) for r, how in checked]
        results = engine.generate(requests) if requests else []
        if len(results) != len(requests):
            raise RuntimeError(f"roundtrip: engine returned {len(results)} results for {len(requests)} requests")
        verdicts = {id(r): (how, result) for (r, how), result in zip(checked, results)}
        stats["requests"] += len(requests)
        for record in batch:
            if id(record) not in verdicts:
                stats["unchecked"] += 1
                kept.append(record)
                continue
            how, result = verdicts[id(record)]
            meta = dict(record.get("meta") or {})
            failed = result.error is not None or not result.completions
            answer = "" if failed else result.completions[0].text.strip()
            if not failed and how["kind"] == "text" and not normalize_answer(answer):
                # Only a lead-in ("The answer is:") before the stop string: the model found nothing to answer
                # from the passage. In the demo that was a nonsense question; its own reason tells it apart.
                stats["unanswered"] += 1
                meta[STAGE] = {"model": engine.model_name, "kind": how["kind"], "answer": answer[:300], "score": 0.0}
                rejected.append(reject({**record, "meta": meta}, "roundtrip_unanswered", STAGE, reanswer=answer[:120]))
                continue
            if failed:
                error = result.error or "no completion"
                stats["errors"] += 1
                meta[STAGE] = {"model": engine.model_name, "error": error}
                out = {**record, "meta": meta}
                if cfg.on_error == "keep":
                    kept.append(out)
                else:
                    rejected.append(reject(out, "roundtrip_failed", STAGE, error=error))
                continue
            score = round(agreement(how, answer), 4)
            meta[STAGE] = {"model": engine.model_name, "kind": how["kind"], "answer": answer[:300], "score": score}
            out = {**record, "meta": meta}
            if score >= cfg.threshold if how["kind"] == "text" else score == 1.0:
                stats["agree"] += 1
                kept.append(out)
            else:
                stats["disagree"] += 1
                rejected.append(reject(out, "roundtrip_disagree", STAGE, score=score, kind=how["kind"], reanswer=answer[:120]))
    return kept, rejected, dict(stats)


__all__ = ["RoundtripConfig", "STAGE", "agreement", "normalize_answer", "plan", "roundtrip_records", "token_f1"]
