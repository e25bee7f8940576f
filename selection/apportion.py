"""Integer apportionment of a budget over weighted units, with size caps.

Two families, kept side by side on purpose:
- SMART parity (`budget_split`, `cap_and_sweep`): floor in float arithmetic,
  remainder +1 to positions 0, 1, ... in greedy order; excess from capped
  tasks is swept +1 per task in greedy order. Order-dependent, kept only to
  reproduce the reference.
- Ours (`largest_remainder`, `capped_largest_remainder`): exact rational
  quotas, remainder seats to the largest fractional parts (ties to the lowest
  index); excess from capped units is re-apportioned over the uncapped ones by
  their weights.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Sequence


def budget_split(total: int, ratios: Sequence[float]) -> list[int]:
    """SMART's split: part_k = ⌊(N·r_k)/Σr⌋ in that operation order, remainder to 0, 1, ... (mod len)."""
    if not ratios:
        return []
    denom = sum(ratios)
    if denom <= 0:
        raise ValueError(f"budget_split: ratios must have a positive sum, got {list(ratios)}")
    parts = [int((total * r) // denom) for r in ratios]
    for pos in range(total - sum(parts)):
        parts[pos % len(parts)] += 1
    return parts


def cap_and_sweep(parts: Sequence[int], sizes: Sequence[int]) -> list[int]:
    """SMART's caps: clip to size, pool the excess, then +1 to each task below its size in order, repeatedly."""
    if sum(sizes) < sum(parts):
        raise ValueError(f"cap_and_sweep: budget {sum(parts)} exceeds the {sum(sizes)} available items")
    out = [min(p, s) for p, s in zip(parts, sizes)]
    pool = sum(parts) - sum(out)
    while pool > 0:
        for k, size in enumerate(sizes):
            if pool and out[k] < size:
                out[k] += 1
                pool -= 1
    return out


def largest_remainder(total: int, weights: Sequence[float]) -> list[int]:
    """Hamilton apportionment in exact arithmetic; ties on the remainder go to the lowest index.

    Weights are read as their shortest decimal (0.15 → 3/20, not the binary
    float 0.1499...), so ties that are ties on paper stay ties.
    """
    exact = [Fraction(repr(float(w))) for w in weights]
    if any(w < 0 for w in exact):
        raise ValueError(f"largest_remainder: weights must be >= 0, got {list(weights)}")
    denom = sum(exact)
    if denom == 0:
        if total:
            raise ValueError("largest_remainder: all weights are zero but the total is positive")
        return [0] * len(exact)
    quotas = [total * w / denom for w in exact]
    parts = [q.numerator // q.denominator for q in quotas]
    order = sorted(range(len(quotas)), key=lambda k: (-(quotas[k] - parts[k]), k))
    for k in order[: total - sum(parts)]:
        parts[k] += 1
    return parts


def capped_largest_remainder(total: int, weights: Sequence[float], sizes: Sequence[int]) -> list[int]:
    """Largest remainder where no unit exceeds its size; the excess goes to the others by weight.

    If the sizes cannot absorb the total, every positive-weight unit is filled
    to its size and the caller decides (upsample or report the shortfall).
    Zero-weight units always get 0.
    """
    if len(weights) != len(sizes):
        raise ValueError("capped_largest_remainder: weights and sizes differ in length")
    counts = [0] * len(weights)
    active = [k for k, w in enumerate(weights) if w > 0 and sizes[k] > 0]
    remaining = total
    while remaining > 0 and active:
        parts = largest_remainder(remaining, [weights[k] for k in active])
        over = [k for k, p in zip(active, parts) if p >= sizes[k]]
        if not over:
            for k, p in zip(active, parts):
                counts[k] = p
            return counts
        for k in over:  # fill the capped units, then re-apportion what is left
            counts[k] = sizes[k]
            remaining -= sizes[k]
        active = [k for k in active if k not in over]
    return counts  # positive-weight units are all full: the shortfall is the caller's to report
