"""The optional LLM-judge stage between curation and selection (filters/judge.py).

Reads `curated/` (or `roundtrip/` when the round-trip check is on), writes
the records it keeps to `judged/` (selection then reads that stage) and the
others to `rejects/judge/` with their reason and scores. Resumed as a unit like the other global stages.
"""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from flows.engine_check import run_engine_check
from flows.roundtrip import after_curation
from taskmill.config import RunConfig

JUDGED = "judged"
JUDGE_REJECTS = "rejects/judge"


def selection_input(cfg: RunConfig) -> str:
    """The stage selection reads: judged records when the judge is on, else the curated (round-tripped) ones."""
    judge = getattr(cfg.curation, "judge", None)
    return JUDGED if judge is not None and judge.enabled else after_curation(cfg)


@task(name="judge", cache_policy=NO_CACHE)
def judge_stage(cfg: RunConfig) -> dict[str, Any]:
    from filters.judge import judge_records

    judge_cfg = cfg.curation.judge

    def run(records: list[dict], engine: Any) -> tuple[list[dict], list[dict], dict[str, Any]]:
        kept, rejected = judge_records(records, engine, judge_cfg, cfg.seed)
        means = [r["meta"]["judge"]["mean"] for r in kept + rejected if "mean" in r["meta"].get("judge", {})]
        return kept, rejected, {"mean_score": round(sum(means) / len(means), 3) if means else None}

    return run_engine_check(cfg, "judge", after_curation(cfg), JUDGED, JUDGE_REJECTS, judge_cfg.engine or cfg.engine, run)
