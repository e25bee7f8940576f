"""Scoring without vLLM (GPU images that ship torch + transformers + TRL only): transformers' generate."""

import builtins
import importlib.util

import pytest

from eval_fixtures import build_run_dir
from taskmill.evaluate.config import EvaluateConfig, ScoreConfig
from taskmill.evaluate.heldout import split_run
from taskmill.evaluate.score import backend_for, score_model

pytestmark = pytest.mark.slow  # loads the packaged 135M model with transformers


@pytest.fixture
def no_vllm(monkeypatch):
    """Make `vllm` look uninstalled: not findable, and importing it fails as it would."""
    real_find_spec, real_import = importlib.util.find_spec, builtins.__import__

    def find_spec(name, *args, **kwargs):
        return None if name == "vllm" or name.startswith("vllm.") else real_find_spec(name, *args, **kwargs)

    def guarded_import(name, *args, **kwargs):
        if name == "vllm" or name.startswith("vllm."):
            raise ModuleNotFoundError("No module named 'vllm'", name="vllm")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    monkeypatch.setattr(builtins, "__import__", guarded_import)


def test_auto_backend_falls_back_to_transformers_generate(tmp_path, no_vllm):
    assert backend_for(ScoreConfig()) == "transformers"
    assert backend_for(ScoreConfig(backend="vllm")) == "vllm"  # asked for explicitly: not overridden

    run_dir = build_run_dir(str(tmp_path), formats=("messages",))
    heldout = split_run(run_dir, EvaluateConfig(heldout={"tables": ["rivers"], "tasks": 3, "max_answer_share": 1.0})).heldout
    batched = score_model(heldout, "packaged:smollm2", ScoreConfig(max_tokens=8, batch_size=3))
    single = score_model(heldout, "packaged:smollm2", ScoreConfig(max_tokens=8, batch_size=1))

    assert [r["backend"] for r in batched] == ["transformers"] * 3
    assert [r["id"] for r in batched] == [r["id"] for r in heldout]
    assert all(isinstance(r["completion"], str) and r["completion"].strip() for r in batched)
    # left padding in a batch must not change greedy answers: same text as one prompt at a time
    assert [r["completion"] for r in batched] == [r["completion"] for r in single]
