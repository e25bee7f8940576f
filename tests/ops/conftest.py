"""Fixtures for the operations tests: one finished small run (SQL generator, no LLM) shared by the module tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

SECRET_KEY = "sk-opsTEST0123456789secret"
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def small_config(run_root: str, **overrides) -> dict:
    config = {
        "name": "ops",
        "run_root": run_root,
        "seed": 5,
        "generators": [{"method": "sql_exec", "tasks_per_table": 2, "shard_size": 8}],
        "export": {"formats": ["messages", "alpaca"], "dataset_name": "ops-test", "license": "apache-2.0"},
        # never used (SQL needs no LLM), but a key in the config must not leak into the run dir or the card
        "engine": {"backend": "openai", "base_url": "http://127.0.0.1:9/v1", "api_key": SECRET_KEY},
    }
    config.update(overrides)
    return config


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory, prefect_harness, ray_local) -> str:
    """A completed run directory (pipeline on the real Prefect test API and local Ray)."""
    from flows.pipeline import pipeline

    root = tmp_path_factory.mktemp("ops-runs")
    summary = pipeline(config=small_config(str(root)))
    return summary["run_dir"]


@pytest.fixture
def run_copy(finished_run, tmp_path) -> str:
    """A private copy of the finished run (tests that change it do not disturb the others)."""
    target = tmp_path / os.path.basename(finished_run)
    shutil.copytree(finished_run, target, ignore=shutil.ignore_patterns(".lock"))
    return str(target)


def run_cli(args: list[str], env: dict[str, str] | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    """`python -m taskmill.cli ...` in a child process (fresh huggingface_hub constants, real argv)."""
    full_env = {**os.environ, "PYTHONPATH": ROOT, **(env or {})}
    return subprocess.run([sys.executable, "-m", "taskmill.cli", *args], env=full_env, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
