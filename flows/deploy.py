"""Scheduled runs: serve the pipeline flow with a cron schedule.

`flow.serve` needs no work pool: the serving process polls the Prefect API
(embedded, or `PREFECT_API_URL` for a `prefect server`) and runs the flow on
schedule; every run shows in the Prefect UI. infra/prefect.yaml has the
work-pool variant (`prefect deploy`).
"""

from __future__ import annotations

import os

from flows.pipeline import pipeline


def deployment_name(config_path: str) -> str:
    return os.path.splitext(os.path.basename(config_path))[0]


def serve(config_path: str, cron: str | None = None, name: str | None = None) -> None:
    from taskmill.config import load_config

    load_config(config_path)  # fail now, not at the first scheduled run
    pipeline.serve(
        name=name or deployment_name(config_path),
        cron=cron,
        parameters={"config_path": os.path.abspath(config_path)},
        tags=["taskmill"],
    )
