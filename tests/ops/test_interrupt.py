"""Ctrl-C during `taskmill run` (taskmill/interrupt.py): out in seconds, the flow run marked Crashed, resumable.

A terminal's Ctrl-C sends SIGINT to the whole foreground process group; so does this
test, to a run that starts its own Ray (as `taskmill run` does without `ray.address`)
and is in the middle of generation (scripted engine, each request answered 30 s after
it is sent).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time

import pytest
import yaml

import chaos

pytestmark = pytest.mark.slow


def _flow_run_states(api_url: str, prefix: str = "chaos-") -> list[str]:
    from prefect.client.orchestration import get_client

    async def read():
        async with get_client() as client:
            runs = await client.read_flow_runs()
            return [run.state.name for run in runs if run.name.startswith(prefix)]

    return asyncio.run(read())


def _wait_for(proc: subprocess.Popen, marker: str, timeout_s: float) -> list[str]:
    lines, deadline = [], time.monotonic() + timeout_s
    for line in proc.stdout:
        lines.append(line)
        if marker in line or time.monotonic() > deadline:
            return lines
    return lines


def test_ctrl_c_stops_the_run_in_seconds_marks_it_crashed_and_the_rerun_finishes(tmp_path, prefect_harness):
    from prefect.settings import PREFECT_API_URL

    api = PREFECT_API_URL.value()
    env = {"PREFECT_API_URL": api, "TASKMILL_CHAOS_REQUEST_DELAY_S": "30"}
    config = chaos.chaos_config(str(tmp_path / "runs"), None)  # no address: the run starts its own Ray
    config["ray"] = {"num_cpus": 2}
    config_path = tmp_path / "interrupt.yaml"
    config_path.write_text(yaml.safe_dump(config))

    proc = chaos.start(str(config_path), env)
    seen = _wait_for(proc, "generate-sql_exec", timeout_s=240)  # SQL is done; Bonito's requests are in flight
    assert any("generate-sql_exec" in line for line in seen), "".join(seen)[-3000:]
    interrupted_at = time.monotonic()
    os.killpg(proc.pid, signal.SIGINT)
    rest = proc.stdout.read()
    rc = proc.wait(timeout=60)
    took = time.monotonic() - interrupted_at
    assert rc == 130, rest[-3000:]
    assert took < 20, f"{took:.1f} s to stop"
    assert "interrupted: stopping" in rest and "run the same config again to resume" in rest
    assert "Crashed" in _flow_run_states(api)

    (run_dir,) = [os.path.join(tmp_path / "runs", d) for d in os.listdir(tmp_path / "runs") if d.startswith("chaos-")]
    assert not os.path.exists(os.path.join(run_dir, "export", "README.md"))  # it really stopped before the end
    # The rerun resumes: SQL is not generated again, and it finishes (requests answered at once now).
    done = subprocess.run(
        [sys.executable, chaos.__file__, str(config_path)], env={**os.environ, "PYTHONPATH": chaos.ROOT, **env,
        "TASKMILL_CHAOS_REQUEST_DELAY_S": "0"}, cwd=chaos.ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "3 done earlier" in done.stdout  # the SQL shards of the interrupted run were kept
    assert os.path.exists(os.path.join(run_dir, "export", "README.md"))


def test_a_killed_runs_flow_run_is_marked_crashed_by_the_next_run(tmp_path, prefect_harness, ray_local):
    """kill -9 (or a Ctrl-C whose embedded Prefect server died first) leaves the flow run Running; the next
    run of the same config holds the run directory's lock, so it knows that run is gone and marks it."""
    import ray
    from prefect.settings import PREFECT_API_URL

    api = PREFECT_API_URL.value()
    env = {"PREFECT_API_URL": api, "TASKMILL_CHAOS_REQUEST_DELAY_S": "30"}
    config = chaos.chaos_config(str(tmp_path / "runs"), ray.get_runtime_context().gcs_address)
    config["name"] = "stale"
    config_path = tmp_path / "stale.yaml"
    config_path.write_text(yaml.safe_dump(config))
    proc = chaos.start(str(config_path), env)
    seen = _wait_for(proc, "generate-sql_exec", timeout_s=240)
    assert any("generate-sql_exec" in line for line in seen), "".join(seen)[-3000:]
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    proc.stdout.close()
    assert _flow_run_states(api, "stale-") == ["Running"]
    chaos.run_to_end(str(config_path), {**env, "TASKMILL_CHAOS_REQUEST_DELAY_S": "0"})
    assert sorted(_flow_run_states(api, "stale-")) == ["Completed", "Crashed"]
