"""A global stage that checks curated records with an engine (round-trip, judge): resumed as a unit.

It reads one stage, writes the records it keeps to `kept_stage` (in shards of
SHARD_ROWS) and the others to `rejects_stage`, and stores its report in the
manifest; a rerun after the stage finished returns that report and does no work.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any, Callable

from prefect import get_run_logger

from taskmill.config import RunConfig
from taskmill.records import from_table, to_table
from taskmill.store import RunStore

SHARD_ROWS = 5_000

# records, engine -> (kept, rejected, figures for the report)
Check = Callable[[list[dict], Any], tuple[list[dict], list[dict], dict[str, Any]]]


def run_engine_check(cfg: RunConfig, name: str, input_stage: str, kept_stage: str, rejects_stage: str, engine_settings: Any, check: Check) -> dict[str, Any]:
    """Run `check` over `input_stage` with the engine of `engine_settings`; the report (model, seen, kept, rejected, figures, seconds)."""
    from taskmill.engine.factory import get_engine

    store = RunStore(cfg.run_dir)
    if store.stage_done(kept_stage):
        return {**store.manifest()["stages"][kept_stage].get("report", {}), "done_earlier": True}
    for stage in (kept_stage, rejects_stage):
        store.clear_stage(stage)
    engine = get_engine(engine_settings)
    records = from_table(store.read_stage(input_stage))
    start = time.perf_counter()
    kept, rejected, figures = check(records, engine)
    for index, begin in enumerate(range(0, len(kept), SHARD_ROWS)):
        store.write_shard(kept_stage, index, to_table(kept[begin : begin + SHARD_ROWS]))
    if rejected:
        store.write_shard(rejects_stage, 0, to_table(rejected))
    report = {
        "model": engine.model_name,
        "seen": len(records),
        "kept": len(kept),
        "rejected": dict(Counter(r["reject_reason"] for r in rejected)),
        **figures,
        "seconds": round(time.perf_counter() - start, 3),
    }
    get_run_logger().info("%s %s: %d of %d kept (%.1f s)", name, engine.model_name, len(kept), len(records), report["seconds"])
    store.mark_stage_done(kept_stage, report=report)
    return report
