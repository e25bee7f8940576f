"""A scheduled deployment registers with the (test) Prefect API with its cron and config."""

import asyncio
import os

from flows.deploy import build_deployment

CONFIG = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "demo.yaml")


def test_cron_deployment_registers_with_its_schedule(prefect_harness):
    from prefect.client.orchestration import get_client

    deployment = build_deployment(CONFIG, cron="0 3 * * *")
    deployment_id = deployment.apply()

    async def read():
        async with get_client() as client:
            return await client.read_deployment(deployment_id)

    stored = asyncio.run(read())
    assert stored.name == "demo" and "taskmill" in stored.tags
    assert stored.parameters == {"config_path": os.path.abspath(CONFIG)}
    assert [s.schedule.cron for s in stored.schedules] == ["0 3 * * *"]


def test_a_bad_config_fails_before_anything_is_scheduled(tmp_path):
    import pytest

    from taskmill.config import ConfigError

    bad = tmp_path / "bad.yaml"
    bad.write_text("generators: [{method: bonito, tasks: {qq: 3}}]\n")
    with pytest.raises(ConfigError, match=r"generators\.0\.tasks\.0\.type: unknown Bonito task type 'qq'"):
        build_deployment(str(bad), cron="* * * * *")
