"""The optional round-trip consistency stage between curation and the judge (filters/roundtrip.py).

Reads `curated/`, writes the records it keeps to `roundtrip/` (the judge, or
else selection, reads that stage) and the others to `rejects/roundtrip/`
with their reason and agreement score. Resumed as a unit like the judge.
"""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from flows.engine_check import run_engine_check
from taskmill.config import RunConfig

ROUNDTRIP = "roundtrip"
ROUNDTRIP_REJECTS = "rejects/roundtrip"


def roundtrip_enabled(cfg: RunConfig) -> bool:
    """On, and some generator of the run writes answers it checks (a SQL-only run starts no engine for it)."""
    check = getattr(cfg.curation, "roundtrip", None)
    return check is not None and check.applies([g.method for g in cfg.generators])


def after_curation(cfg: RunConfig) -> str:
    """The stage that holds the curated records once the round-trip check (if on) has run."""
    return ROUNDTRIP if roundtrip_enabled(cfg) else "curated"


@task(name="roundtrip", cache_policy=NO_CACHE)
def roundtrip_stage(cfg: RunConfig) -> dict[str, Any]:
    from filters.roundtrip import roundtrip_records

    check = cfg.curation.roundtrip

    def run(records: list[dict], engine: Any) -> tuple[list[dict], list[dict], dict[str, Any]]:
        kept, rejected, stats = roundtrip_records(records, engine, check, cfg.seed)
        return kept, rejected, {"requests": stats.get("requests", 0), "unchecked": stats.get("unchecked", 0)}

    return run_engine_check(cfg, "roundtrip", "curated", ROUNDTRIP, ROUNDTRIP_REJECTS, check.engine or cfg.engine, run)
