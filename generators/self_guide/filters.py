"""Self-Guide rule filters and voting: each answers keep (None) or a reject code."""

from __future__ import annotations

import logging
import random
import statistics
from collections import Counter
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LengthBounds:
    """Keep iff low <= len(text) < high, in characters."""

    low: int
    high: int

    def check(self, text: str) -> str | None:
        return None if self.low <= len(text) < self.high else "length_out_of_range"


def length_bounds(lengths: list[int], what: str = "seed") -> LengthBounds | None:
    """Bounds int(μ−2σ) .. int(μ+2σ) from the seed lengths (population σ).

    With σ = 0 (all seeds the same length) the window would be [μ, μ) and
    nothing could pass, so the filter is disabled instead (returns None).
    """
    if not lengths:
        return None
    mean = statistics.fmean(lengths)
    sigma = statistics.pstdev(lengths)
    if sigma == 0:
        log.warning("self_guide: all %s lengths equal (%d chars); length filter disabled", what, lengths[0])
        return None
    return LengthBounds(int(mean - 2 * sigma), int(mean + 2 * sigma))


def noise_check(text: str, phrases: list[str] | tuple[str, ...]) -> str | None:
    """Case-sensitive substring match; note "input" rejects any text containing the word (parity)."""
    return "noise_phrase" if any(p in text for p in phrases) else None


def first_failure(text: str, bounds: LengthBounds | None, phrases: list[str] | tuple[str, ...]) -> str | None:
    """The spec's order: empty, length window, noise; the first failing check names the reject.

    `empty` also covers text with no letter or digit at all (a lone code fence "```", "..."):
    a small model writes those as inputs, and they passed every later check.
    """
    if not text or not any(ch.isalnum() for ch in text):
        return "empty"
    if bounds is not None and (reason := bounds.check(text)):
        return reason
    return noise_check(text, phrases)


@dataclass(frozen=True)
class Vote:
    answer: str | None  # the winner if it reached min_frequency, else None (no consensus)
    top: str | None  # the most frequent answer, kept or not
    count: int
    total: int
    votes: dict[str, int]


def majority_vote(outputs: list[str], min_frequency: float) -> Vote:
    """Most frequent answer; ties go to the shortest, then the first seen.

    Kept iff its share of the surviving outputs reaches `min_frequency`.
    """
    counts = Counter(outputs)
    if not counts:
        return Vote(None, None, 0, 0, {})
    first_seen = {text: i for i, text in reversed(list(enumerate(outputs)))}
    best = min(counts, key=lambda t: (-counts[t], len(t), first_seen[t]))
    share = counts[best] / len(outputs)
    answer = best if share >= min_frequency else None
    return Vote(answer, best, counts[best], len(outputs), dict(counts))


def map_label(output: str, labels: list[str]) -> str | None:
    """The first label in list order that is a substring of the output (a reference quirk, kept)."""
    for label in labels:
        if label in output:
            return label
    return None


def balance(labels_of: list[str], seed: int) -> list[bool]:
    """Which items to keep so that every present class has the minority class's count (seeded)."""
    by_label: dict[str, list[int]] = {}
    for index, label in enumerate(labels_of):
        by_label.setdefault(label, []).append(index)
    keep = [False] * len(labels_of)
    if not by_label:
        return keep
    minority = min(len(indices) for indices in by_label.values())
    rng = random.Random(seed)
    for label in sorted(by_label):
        for index in rng.sample(by_label[label], minority):
            keep[index] = True
    return keep
