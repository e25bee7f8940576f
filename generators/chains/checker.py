"""Step-by-step scoring of a model's answer to a verifiable chain (spec §3b).

Scores, for one chain with gold step outputs [s1, ..., sk]:
- `steps`: per-step exact match after whitespace normalization (and case
  folding, unless the chain changes case: then case is what the step tests);
- `depth`: the number of leading steps that are right (SIFo's depth);
- `correct`: the last step is right (instance accuracy);
- `lenient`: per step, the normalized gold is a substring of the normalized
  prediction (SIFo's lenient check).
A prediction is a transcript (parsed tolerantly) or a list of step outputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from generators.chains.transcript import TranscriptError, parse_transcript


def normalize(text: str, fold_case: bool = True) -> str:
    text = " ".join(text.split())
    return text.lower() if fold_case else text


@dataclass
class ChainScore:
    steps: list[bool]
    lenient: list[bool]
    depth: int
    correct: bool
    parse_error: str | None = None


def score_chain(
    prediction: str | Sequence[str], gold: Sequence[str], fold_case: bool = True
) -> ChainScore:
    """Score `prediction` against the gold step outputs. A transcript that does not parse scores 0."""
    if isinstance(prediction, str):
        try:
            predicted = parse_transcript(prediction)
        except TranscriptError as error:
            k = len(gold)
            return ChainScore([False] * k, [False] * k, 0, False, str(error))
    else:
        predicted = list(prediction)
    steps, lenient = [], []
    for i, expected in enumerate(gold):
        got = normalize(predicted[i], fold_case) if i < len(predicted) else None
        want = normalize(expected, fold_case)
        steps.append(got == want)
        lenient.append(got is not None and want in got)
    depth = next((i for i, ok in enumerate(steps) if not ok), len(steps))
    return ChainScore(steps, lenient, depth, bool(steps) and steps[-1])


def score_record(record: dict, prediction: str | Sequence[str]) -> ChainScore:
    """Score a prediction for a `sifo_chain` record, from the gold outputs and ops in its meta."""
    meta = record["meta"]
    changes_case = any(op["name"] == "upper" for op in meta["ops"])
    return score_chain(prediction, meta["step_outputs"], fold_case=not changes_case)
