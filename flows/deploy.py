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


def build_deployment(config_path: str, cron: str, name: str | None = None):
    """A RunnerDeployment of the pipeline for this config on a cron schedule."""
    from taskmill.config import load_config

    load_config(config_path)  # fail now, not at the first scheduled run
    return pipeline.to_deployment(
        name=name or deployment_name(config_path),
        cron=cron,
        parameters={"config_path": os.path.abspath(config_path)},
        tags=["taskmill"],
        description=f"taskmill pipeline for {os.path.abspath(config_path)}",
    )


def serve(config_path: str, cron: str, name: str | None = None) -> None:
    from prefect import serve as prefect_serve

    prefect_serve(build_deployment(config_path, cron, name))
