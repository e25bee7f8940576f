"""The optional LLM-judge stage between curation and selection (filters/judge.py).

Reads `curated/` (or `roundtrip/` when the round-trip check is on), writes
the records it keeps to `judged/` (selection then reads that stage) and the
others to `rejects/judge/` with their reason and scores. Resumed as a unit like the other global stages.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows.roundtrip import after_curation
from taskmill.config import RunConfig
from taskmill.records import from_table, to_table
from taskmill.store import RunStore

JUDGED = "judged"
JUDGE_REJECTS = "rejects/judge"
SHARD_ROWS = 5_000


def selection_input(cfg: RunConfig) -> str:
    """The stage selection reads: judged records when the judge is on, else the curated (round-tripped) ones."""
    judge = getattr(cfg.curation, "judge", None)
    return JUDGED if judge is not None and judge.enabled else after_curation(cfg)


@task(name="judge", cache_policy=NO_CACHE)
def judge_stage(cfg: RunConfig) -> dict[str, Any]:
    from filters.judge import judge_records
    from taskmill.engine.factory import get_engine

    store = RunStore(cfg.run_dir)
    if store.stage_done(JUDGED):
        return store.manifest()["stages"][JUDGED].get("report", {})
    for stage in (JUDGED, JUDGE_REJECTS):
        store.clear_stage(stage)
    judge_cfg = cfg.curation.judge
    engine = get_engine(judge_cfg.engine or cfg.engine)
    records = from_table(store.read_stage(after_curation(cfg)))
    start = time.perf_counter()
    kept, rejected = judge_records(records, engine, judge_cfg, cfg.seed)
    for index, begin in enumerate(range(0, len(kept), SHARD_ROWS)):
        store.write_shard(JUDGED, index, to_table(kept[begin : begin + SHARD_ROWS]))
    if rejected:
        store.write_shard(JUDGE_REJECTS, 0, to_table(rejected))
    means = [r["meta"]["judge"]["mean"] for r in kept + rejected if "mean" in r["meta"].get("judge", {})]
    report = {
        "model": engine.model_name,
        "seen": len(records),
        "kept": len(kept),
        "rejected": dict(Counter(r["reject_reason"] for r in rejected)),
        "mean_score": round(sum(means) / len(means), 3) if means else None,
        "seconds": round(time.perf_counter() - start, 3),
    }
    get_run_logger().info("judge %s: %d of %d kept", engine.model_name, len(kept), len(records))
    store.mark_stage_done(JUDGED, report=report)
    return report
