"""Scheduled runs against the Prefect API: one at a time per deployment, a run id per slot, the run-dir lock."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
import yaml

from conftest import small_config
from taskmill.config import parse_config
from taskmill.schedule import derive_seed, for_this_run
from taskmill.store import RunLockedError, run_lock


def _read_deployment(deployment_id):
    from prefect.client.orchestration import get_client

    async def read():
        async with get_client() as client:
            return await client.read_deployment(deployment_id)

    return asyncio.run(read())


def test_deployment_runs_one_at_a_time_by_default(tmp_path, prefect_harness):
    from flows.deploy import build_deployment

    config = tmp_path / "nightly.yaml"
    config.write_text(yaml.safe_dump(small_config(str(tmp_path / "runs"), run_mode="new_per_run")))
    stored = _read_deployment(build_deployment(str(config), cron="0 3 * * *").apply())
    assert stored.global_concurrency_limit is not None and stored.global_concurrency_limit.limit == 1
    assert stored.concurrency_options.collision_strategy.value == "ENQUEUE"
    assert {"taskmill", "config:ops", "run_mode:new_per_run"} <= set(stored.tags)

    unlimited = _read_deployment(build_deployment(str(config), cron="0 3 * * *", name="free", concurrency_limit=None).apply())
    assert unlimited.global_concurrency_limit is None


def test_new_per_run_gives_each_slot_its_run_id_and_seed(tmp_path):
    cfg = parse_config(small_config(str(tmp_path), run_mode="new_per_run"))
    a, b = for_this_run(cfg, "20261129T030000Z"), for_this_run(cfg, "20261130T030000Z")
    assert a.resolved_run_id == f"{cfg.resolved_run_id}-20261129T030000Z" and a.run_dir != b.run_dir
    assert a.seed == derive_seed(5, "20261129T030000Z") != b.seed != 5
    assert for_this_run(cfg, "20261129T030000Z").seed == a.seed  # a retried slot resumes its own run
    resume = parse_config(small_config(str(tmp_path)))
    assert for_this_run(resume, "20261129T030000Z") is resume


def test_slot_is_the_flow_runs_scheduled_start(tmp_path, prefect_harness):
    from prefect import flow
    from prefect.runtime import flow_run

    cfg = parse_config(small_config(str(tmp_path), run_mode="new_per_run"))

    @flow
    def probe():
        return for_this_run(cfg).resolved_run_id, flow_run.scheduled_start_time

    run_id, scheduled = probe()
    expected = scheduled.astimezone(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    assert run_id == f"{cfg.resolved_run_id}-{expected}"


def test_second_pipeline_on_a_locked_run_dir_stops_with_the_reason(tmp_path, prefect_harness):
    from flows.pipeline import pipeline

    config = small_config(str(tmp_path / "runs"))
    run_dir = parse_config(config).run_dir
    with run_lock(run_dir):
        with pytest.raises(RunLockedError, match="is in use by another taskmill process"):
            pipeline(config=config)
