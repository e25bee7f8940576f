"""Scheduled runs: serve the pipeline flow with a cron schedule.

Serving needs no work pool: the serving process polls the Prefect API
(embedded, or `PREFECT_API_URL` for a `prefect server`) and runs the flow on
schedule; every run shows in the Prefect UI, and the process keeps its vLLM
actors warm between runs. infra/prefect.yaml has the work-pool variant
(`prefect deploy`).
"""

from __future__ import annotations

import os

from flows.pipeline import pipeline


def deployment_name(config_path: str) -> str:
    return os.path.splitext(os.path.basename(config_path))[0]


def build_deployment(config_path: str, cron: str, name: str | None = None, concurrency_limit: int | None = 1):
    """A RunnerDeployment of the pipeline for this config on a cron schedule.

    `concurrency_limit` (default 1) caps this deployment's flow runs at once: a
    run that comes due while another is running waits its turn (Prefect's
    ENQUEUE strategy) instead of working on the same data in parallel. None: no limit.
    """
    from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy

    from taskmill.config import load_config

    cfg = load_config(config_path)  # fail now, not at the first scheduled run
    limit = ConcurrencyLimitConfig(limit=concurrency_limit, collision_strategy=ConcurrencyLimitStrategy.ENQUEUE) if concurrency_limit else None
    return pipeline.to_deployment(
        name=name or deployment_name(config_path),
        cron=cron,
        parameters={"config_path": os.path.abspath(config_path)},
        tags=sorted({"taskmill", f"config:{cfg.name}", f"run_mode:{cfg.run_mode}"}),
        description=f"taskmill pipeline for {os.path.abspath(config_path)} (run_mode: {cfg.run_mode})",
        concurrency_limit=limit,
    )


def serve(config_path: str, cron: str, name: str | None = None, concurrency_limit: int | None = 1) -> None:
    from prefect import serve as prefect_serve

    prefect_serve(build_deployment(config_path, cron, name, concurrency_limit))
