"""Chaos: SIGKILL a run's process group at random points, rerun, and get byte-identical export files.

The runs are child processes (real Prefect API from the test harness, real Ray:
the session's local cluster, joined by address) with a scripted engine (see
tests/ops/chaos.py). The reference is an uninterrupted run of the same config
in the same run directory.
"""

from __future__ import annotations

import os
import random
import shutil

import pytest
import yaml

import chaos

pytestmark = pytest.mark.slow
KILLS = 5


def test_sigkill_at_random_points_then_resume_gives_identical_export(tmp_path, prefect_harness, ray_local):
    import ray
    from prefect.settings import PREFECT_API_URL

    env = {"PREFECT_API_URL": PREFECT_API_URL.value()}
    config = chaos.chaos_config(str(tmp_path / "runs"), ray.get_runtime_context().gcs_address)
    config_path = tmp_path / "chaos.yaml"
    config_path.write_text(yaml.safe_dump(config))

    full_s, _ = chaos.run_to_end(str(config_path), env)
    (run_dir,) = [os.path.join(tmp_path / "runs", d) for d in os.listdir(tmp_path / "runs") if d.startswith("chaos-")]
    reference = chaos.export_files(os.path.join(run_dir, "export"))
    assert {"records.parquet", "messages.jsonl", "alpaca.jsonl", "sharegpt.jsonl", "README.md", "mixture.json"} <= set(reference)
    shutil.rmtree(run_dir)

    rng = random.Random(20261129)
    kill_points, attempts = [], 0
    while len(kill_points) < KILLS and attempts < 3 * KILLS:
        attempts += 1
        after = rng.uniform(0.2, full_s)
        if chaos.run_and_kill(str(config_path), env, after):
            kill_points.append(round(after, 2))
    assert len(kill_points) == KILLS, f"only {len(kill_points)} kills landed in {attempts} runs"

    chaos.run_to_end(str(config_path), env)
    resumed = chaos.export_files(os.path.join(run_dir, "export"))
    assert chaos.differing(reference, resumed) == [], f"kills at {kill_points} s"
    leftovers = [n for _d, dirs, files in os.walk(run_dir) for n in files + dirs if ".tmp" in n or ".staging-" in n]
    assert leftovers == []
