"""Quiet runs on the real vLLM engine (Ray actors): engine output in logs/engine.log, not in the terminal;
a failing engine shows its error and the log's path."""

from __future__ import annotations

import os

import pytest
import yaml

DOCS = [
    "The river floods every spring, so the town built its houses on stilts and moved the market uphill.",
    "Copper conducts electricity well and resists corrosion, which is why it is used in household wiring.",
]
ENGINE_MARKS = ("_EngineActor", "pid=", "INFO 1", "WARNING 1", "Finished in state")


@pytest.fixture
def quiet_env(monkeypatch):
    for name in ("TASKMILL_VERBOSE", "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "HF_HUB_DISABLE_PROGRESS_BARS", "HF_DATASETS_DISABLE_PROGRESS_BARS"):
        monkeypatch.setenv(name, os.environ.get(name, ""))  # main() sets them; restored after the test
        monkeypatch.delenv(name)


def _config(tmp_path, name: str, engine: dict) -> str:
    cfg = {
        "name": name,
        "run_root": str(tmp_path / "runs"),
        "seed": 1,
        "engine": engine,
        "sources": [{"kind": "inline", "texts": DOCS}],
        "generators": [{"method": "bonito", "prompted_format": "json", "shard_size": 2, "tasks": {"qa": None}}],
        "curation": {"minhash": {"enabled": False}},
        "selection": {"method": "none"},
        "export": {"formats": ["messages"], "dataset_name": name},
    }
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return str(path)


@pytest.mark.vllm
@pytest.mark.slow
def test_real_engine_output_stays_out_of_the_terminal(tmp_path, prefect_harness, ray_local, engine_settings, capfd, quiet_env):
    from taskmill.cli import main
    from taskmill.config import load_config
    from taskmill.engine.factory import running_engine

    config = _config(tmp_path, "quiet-vllm", engine_settings.model_dump(exclude_defaults=True))
    cfg = load_config(config)
    assert cfg.engine == engine_settings  # the session's engine: at most one vLLM engine in the test session
    started_here = running_engine(cfg.engine) is None
    assert main(["run", config]) == 0
    out, err = capfd.readouterr()
    assert not [line for line in (out + err).splitlines() if any(mark in line for mark in ENGINE_MARKS)], out + err
    assert "  generate-bonito " in out and "  export " in out
    log = open(os.path.join(cfg.run_dir, "logs", "engine.log"), encoding="utf-8").read()
    if started_here:  # this run loaded the model: its start-up is a step, and vLLM's lines are in the log
        assert "  engine-startup " in out
        assert "(_EngineActor pid=" in log and "vllm" in log.lower()


@pytest.mark.vllm
@pytest.mark.slow
def test_failing_engine_shows_its_error_and_the_log_path(tmp_path, prefect_harness, ray_local, capfd, quiet_env):
    from taskmill.cli import main
    from taskmill.config import load_config

    # vLLM refuses a context longer than the model's at engine start-up, inside the actor.
    config = _config(tmp_path, "quiet-broken", {"max_model_len": 1_000_000, "max_num_seqs": 3})
    cfg = load_config(config)
    assert main(["run", config]) == 1
    out, err = capfd.readouterr()
    log_path = os.path.join(cfg.run_dir, "logs", "engine.log")
    failure = err[err.index("taskmill run failed:") :]
    message = failure[: failure.index(f"last lines of {log_path}:")]
    assert "max_model_len" in message and len(message.splitlines()) <= 8  # the error, not a screen of traceback
    assert failure.rstrip().endswith(f"engine and Ray worker log: {log_path}")
    log = open(log_path, encoding="utf-8").read()
    assert "(_EngineActor pid=" in log  # the actor's own lines before it failed
