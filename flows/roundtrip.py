"""The optional round-trip consistency stage between curation and the judge (filters/roundtrip.py).

Reads `curated/`, writes the records it keeps to `roundtrip/` (the judge, or
else selection, reads that stage) and the others to `rejects/roundtrip/`
with their reason and agreement score. Resumed as a unit like the judge.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from taskmill.config import RunConfig
from taskmill.records import from_table, to_table
from taskmill.store import RunStore

ROUNDTRIP = "roundtrip"
ROUNDTRIP_REJECTS = "rejects/roundtrip"
SHARD_ROWS = 5_000


def roundtrip_enabled(cfg: RunConfig) -> bool:
    check = getattr(cfg.curation, "roundtrip", None)
    return check is not None and check.enabled


def after_curation(cfg: RunConfig) -> str:
    """The stage that holds the curated records once the round-trip check (if on) has run."""
    return ROUNDTRIP if roundtrip_enabled(cfg) else "curated"


@task(name="roundtrip", cache_policy=NO_CACHE)
def roundtrip_stage(cfg: RunConfig) -> dict[str, Any]:
    from filters.roundtrip import roundtrip_records
    from taskmill.engine.factory import get_engine

    store = RunStore(cfg.run_dir)
    if store.stage_done(ROUNDTRIP):
        return store.manifest()["stages"][ROUNDTRIP].get("report", {})
    for stage in (ROUNDTRIP, ROUNDTRIP_REJECTS):
        store.clear_stage(stage)
    check = cfg.curation.roundtrip
    engine = get_engine(check.engine or cfg.engine)
    records = from_table(store.read_stage("curated"))
    start = time.perf_counter()
    kept, rejected, stats = roundtrip_records(records, engine, check, cfg.seed)
    for index, begin in enumerate(range(0, len(kept), SHARD_ROWS)):
        store.write_shard(ROUNDTRIP, index, to_table(kept[begin : begin + SHARD_ROWS]))
    if rejected:
        store.write_shard(ROUNDTRIP_REJECTS, 0, to_table(rejected))
    report = {
        "model": engine.model_name,
        "seen": len(records),
        "kept": len(kept),
        "rejected": dict(Counter(r["reject_reason"] for r in rejected)),
        "requests": stats.get("requests", 0),
        "unchecked": stats.get("unchecked", 0),
        "seconds": round(time.perf_counter() - start, 3),
    }
    get_run_logger().info(
        "roundtrip %s: %d of %d kept (%d requests, %.1f s)", engine.model_name, len(kept), len(records), report["requests"], report["seconds"]
    )
    store.mark_stage_done(ROUNDTRIP, report=report)
    return report
