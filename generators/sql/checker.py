"""Denotation accuracy: does a predicted answer list denote the gold one?

Each side is either an output text (`format_answers`: `", "`-joined, values
with a comma or quote, and empty values, in double quotes) or an already
structured list of values (`meta["answers"]`). Items are compared as
multisets, ignoring order, case and surrounding space; items that parse as
numbers (thousands separators allowed) are compared as numbers, so "1.0"
matches "1" (spec test 4).
"""

from __future__ import annotations

import math
from typing import Sequence

from generators.sql.answers import parse_answers
from generators.sql.cells import parse_number

_TOLERANCE = 1e-9  # absorbs float printing noise only, not rounding by the model


def _number(item: str) -> float | None:
    value = parse_number(item)
    return value if value is not None and math.isfinite(value) else None


def _split(answer: str | Sequence[str]) -> tuple[list[float], list[str]]:
    items = parse_answers(answer) if isinstance(answer, str) else ["" if a is None else str(a) for a in answer]
    numbers: list[float] = []
    texts: list[str] = []
    for raw in items:
        item = raw.strip().lower()
        value = _number(item)
        if value is None:
            texts.append(item)
        else:
            numbers.append(value)
    return sorted(numbers), sorted(texts)


def denotation_match(prediction: str | Sequence[str], gold: str | Sequence[str]) -> bool:
    """Number-aware, order-insensitive multiset equality of two answer lists (text or list)."""
    pred_numbers, pred_texts = _split(prediction)
    gold_numbers, gold_texts = _split(gold)
    if pred_texts != gold_texts or len(pred_numbers) != len(gold_numbers):
        return False
    return all(math.isclose(p, g, rel_tol=_TOLERANCE, abs_tol=_TOLERANCE) for p, g in zip(pred_numbers, gold_numbers))
