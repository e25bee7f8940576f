"""Run identity for scheduled and repeated runs (`run_mode` in the config).

- `resume` (default): the run id is `<name>-<config hash>`; every run of the same
  config, scheduled or not, resumes that run directory.
- `new_per_run`: each run gets `<name>-<config hash>-<slot>`, the slot being the
  flow run's scheduled start time (UTC, `YYYYmmddTHHMMSSZ`), and a seed derived
  from the config seed and the slot, so nightly runs make new data while a
  retried run of the same slot resumes its own directory.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from taskmill.config import RunConfig


def schedule_slot() -> str:
    """The current flow run's scheduled start (or now, outside a scheduled flow run), as a run-id suffix."""
    when = None
    try:
        from prefect.runtime import flow_run

        when = flow_run.scheduled_start_time if flow_run.id else None
    except Exception:  # outside Prefect: no flow run context
        when = None
    when = when or dt.datetime.now(dt.timezone.utc)
    return when.astimezone(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def derive_seed(seed: int, slot: str) -> int:
    """A 31-bit seed from the config seed and the slot (sha256; stable across machines)."""
    return int(hashlib.sha256(f"{seed}/{slot}".encode()).hexdigest()[:8], 16) % (2**31)


def for_this_run(cfg: RunConfig, slot: str | None = None) -> RunConfig:
    """The config this run executes: unchanged for `resume`; own run id and seed for `new_per_run`."""
    if cfg.run_mode != "new_per_run":
        return cfg
    slot = slot or schedule_slot()
    return cfg.model_copy(update={"run_id": f"{cfg.resolved_run_id}-{slot}", "seed": derive_seed(cfg.seed, slot)})
