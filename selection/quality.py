"""Quality × diversity: a modular quality term added to the diversity set function.

Objective (Lin & Bilmes, 2011, "A Class of Submodular Functions for Document
Summarization", ACL, §2 and §4: F(S) = L(S) + λ·R(S), a coverage term plus a
second monotone submodular term traded off by λ): here
    F(S) = f(S) + λ · Σ_{j∈S} q_j,
where f is the selection method's function (facility location, graph cut,
log-det; SMART's stage-2 f2) and q_j ∈ [0, 1] is record j's quality. A
modular term with q_j ≥ 0 is monotone submodular, so F keeps f's properties
and the greedy (1 − 1/e) guarantee (Nemhauser et al., 1978); the lazy
optimizer's stale bounds stay valid.

λ is in the units of f's gains. For facility location a gain is the
similarity mass a record adds to the represented set, so λ = 1 makes a
quality gap of 1.0 worth one more fully represented record: between two
near-duplicates (equal diversity gain) the better one is always taken first,
while a much more representative record still beats a slightly better one.

q_j comes from the curation stages' scores in `meta`: the LLM judge's mean
(1..5 mapped to 0..1, filters/judge.py) and the round-trip agreement score
(0..1, filters/roundtrip.py); `signal: auto` averages the ones a record has.
Records with no score get `missing`.
"""

from __future__ import annotations

from typing import Literal, Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from selection.submodular import SetFunction


class QualityConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    weight: float = Field(0.0, ge=0, description="λ: quality bonus per unit of q_j (0 = diversity only)")
    signal: Literal["auto", "judge", "roundtrip"] = "auto"
    missing: float = Field(1.0, ge=0, le=1, description="q for records without a score (e.g. SQL, verified chains)")


def judge_quality(record: dict) -> float | None:
    mean = ((record.get("meta") or {}).get("judge") or {}).get("mean")
    return None if mean is None else min(1.0, max(0.0, (float(mean) - 1.0) / 4.0))


def roundtrip_quality(record: dict) -> float | None:
    score = ((record.get("meta") or {}).get("roundtrip") or {}).get("score")
    return None if score is None else min(1.0, max(0.0, float(score)))


def quality_scores(records: Sequence[dict], cfg: QualityConfig) -> np.ndarray:
    """q_j in [0, 1] per record, shape (len(records),)."""
    out = np.empty(len(records), dtype=np.float64)
    for j, record in enumerate(records):
        found = [
            value
            for name, value in (("judge", judge_quality(record)), ("roundtrip", roundtrip_quality(record)))
            if value is not None and cfg.signal in ("auto", name)
        ]
        out[j] = sum(found) / len(found) if found else cfg.missing
    return out


class WithQuality(SetFunction):
    """F(S) = f(S) + λ Σ_{j∈S} q_j over the same ground set as `f`."""

    def __init__(self, f: SetFunction, quality: np.ndarray, weight: float):
        self.f = f
        self.bonus = weight * np.asarray(quality, dtype=np.float64)
        if self.bonus.shape != (f.n,):
            raise ValueError(f"quality scores have shape {self.bonus.shape}, the set function has {f.n} items")
        self.n = f.n
        self.name = f"{f.name}+quality"
        self.submodular = f.submodular
        self.taken = 0.0

    def gains(self, cand: np.ndarray) -> np.ndarray:
        return self.f.gains(cand) + self.bonus[np.asarray(cand)]

    def add(self, j: int) -> None:
        self.f.add(j)
        self.taken += float(self.bonus[j])

    def objective(self) -> float:
        return self.f.objective() + self.taken


__all__ = ["QualityConfig", "WithQuality", "judge_quality", "quality_scores", "roundtrip_quality"]
