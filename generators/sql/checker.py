"""Denotation accuracy: does a predicted answer list denote the gold one?

Both sides are `", "`-joined answer lists. Items are compared as multisets,
ignoring order, case and surrounding space; items that parse as numbers are
compared as numbers, so "1.0" matches "1" (spec test 4).
"""

from __future__ import annotations

import math

_TOLERANCE = 1e-9  # absorbs float printing noise only, not rounding by the model


def _number(item: str) -> float | None:
    try:
        value = float(item)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _split(answer: str) -> tuple[list[float], list[str]]:
    numbers: list[float] = []
    texts: list[str] = []
    for raw in answer.split(","):
        item = raw.strip().lower()
        value = _number(item)
        if value is None:
            texts.append(item)
        else:
            numbers.append(value)
    return sorted(numbers), sorted(texts)


def denotation_match(prediction: str, gold: str) -> bool:
    """Number-aware, order-insensitive multiset equality of two answer lists."""
    pred_numbers, pred_texts = _split(prediction)
    gold_numbers, gold_texts = _split(gold)
    if pred_texts != gold_texts or len(pred_numbers) != len(gold_numbers):
        return False
    return all(math.isclose(p, g, rel_tol=_TOLERANCE, abs_tol=_TOLERANCE) for p, g in zip(pred_numbers, gold_numbers))
