"""Bonito and Self-Guide on the real vLLM engine with the packaged model (small counts).

The 135M model writes poor data, so these tests assert lineage and
accounting (every candidate is kept or rejected with a known reason), not
quality. Run under `flock /tmp/taskmill-vllm.lock` (one vLLM model at a time).
"""

from __future__ import annotations

import re

import pytest

from generators.bonito import BonitoConfig, BonitoGenerator
from generators.bonito.protocol import REJECT_CODES as BONITO_CODES
from generators.self_guide import REJECT_CODES as SELF_GUIDE_CODES
from generators.self_guide import SelfGuideConfig, SelfGuideGenerator
from taskmill.records import derive_seed, from_table, to_table

pytestmark = pytest.mark.vllm

DOCS = [
    {"id": "doc-a", "text": "The ferry leaves the harbour at 7 am and 5 pm; on Sundays only the morning boat runs."},
    {"id": "doc-b", "text": "Copper conducts heat well, which is why many cooking pans have a copper base."},
]
SHA256 = re.compile(r"^[0-9a-f]{64}$")


class Recording:
    """Passes requests to the real engine and keeps the results for inspection."""

    def __init__(self, engine):
        self.engine = engine
        self.model_name = engine.model_name
        self.settings = getattr(engine, "settings", None)
        self.calls: list[tuple[list, list]] = []

    def generate(self, requests, progress=None):
        results = self.engine.generate(requests, progress)
        self.calls.append((list(requests), results))
        return results


def assert_lineage(rec: dict, model: str, method: str) -> None:
    assert rec["id"].startswith(f"{method}-") and rec["method"] == method
    assert rec["model"] == model and SHA256.match(rec["prompt_sha256"])
    assert isinstance(rec["seed"], int) and rec["sampling"]["seed"] == rec["seed"]
    assert rec["finish_reason"] in {"stop", "length"} and rec["prompt_tokens"] > 0


def test_bonito_on_vllm(vllm_engine):
    config = BonitoConfig(method="bonito", tasks={"ynqa": {"max_tokens": 96}}, n=2)
    gen = BonitoGenerator(config, run_seed=42)
    outputs = [gen.run_shard(shard, vllm_engine) for shard in gen.plan_shards(DOCS)]
    kept = [r for o in outputs for r in o.kept]
    rejects = [r for o in outputs for r in o.rejects]
    assert len(kept) + len(rejects) == 4  # 2 documents x n=2, nothing dropped silently
    for rec in kept + rejects:
        assert_lineage(rec, vllm_engine.model_name, "bonito")
        assert rec["sampling"]["temperature"] == 0.5 and rec["sampling"]["n"] == 2
        assert rec["seed"] == derive_seed(42, "bonito", rec["source_id"], "ynqa")
        assert rec["meta"]["task_type"] == "yes-no question answering" and rec["meta"]["mode"] == "prompted-fields"
        assert rec["meta"]["raw_prediction"]
    assert sorted((r["source_id"], r["sample_index"]) for r in kept + rejects) == [
        ("doc-a", 0), ("doc-a", 1), ("doc-b", 0), ("doc-b", 1),
    ]  # fmt: skip
    for rec in rejects:
        assert rec["reject_reason"] in (*BONITO_CODES, "malformed_json") and rec["reject_stage"] == "bonito"
    for rec in kept:
        assert rec["reject_reason"] is None and rec["output"] and "{{context}}" not in rec["instruction"]
    assert sum(o.stats["stages"]["parse"]["candidates"] for o in outputs) == 4
    assert from_table(to_table(kept + rejects))[0]["id"] == (kept + rejects)[0]["id"]


def test_self_guide_on_vllm(vllm_engine):
    task = {
        "name": "review_sentiment",
        "instruction": "Decide how the writer of the review feels. Answer positive, negative or neutral.",
        "labels": ["positive", "negative", "neutral"],
        "examples": [
            {"input": "The kettle boils fast and looks great.", "output": "positive"},
            {"input": "The strap broke on the second day.", "output": "negative"},
            {"input": "It is a black umbrella of normal size.", "output": "neutral"},
        ],
    }
    config = SelfGuideConfig(
        method="self_guide", tasks=[task], rounds=2, prompts_per_round=3,
        inputs={"max_tokens": 48}, annotation={"best_of": 4, "n_annot": 2, "max_tokens": 8},
    )  # fmt: skip
    engine = Recording(vllm_engine)
    gen = SelfGuideGenerator(config, run_seed=7)
    (shard,) = gen.plan_shards([])
    out = gen.run_shard(shard, engine)
    stages = out.stats["stages"]
    assert stages["input"]["candidates"] == 6 and len(engine.calls) in (2, 3)  # 2 rounds (+ annotation)
    input_rejects = [r for r in out.rejects if r["meta"]["stage"] == "input"]
    output_rejects = [r for r in out.rejects if r["meta"]["stage"] == "output"]
    assert stages["input"]["kept"] + len(input_rejects) == 6
    assert stages["output"]["candidates"] == stages["input"]["kept"] == len(output_rejects) + len(out.kept)
    for rec in out.rejects:
        assert rec["reject_reason"] in (*SELF_GUIDE_CODES, "engine_error") and rec["reject_stage"] == "self_guide"
    for rec in input_rejects:
        assert rec["id"].startswith("self_guide-input-") and rec["sampling"]["temperature"] == 0.7
        assert rec["sampling"]["top_k"] == 40 and rec["meta"]["task"] == "review_sentiment"
    for rec in out.kept + output_rejects:
        assert_lineage(rec, vllm_engine.model_name, "self_guide")
        assert rec["sampling"]["n"] == 2 and rec["sampling"]["best_of"] == 4 and rec["sampling"]["temperature"] == 0.2
        (parent,) = rec["parents"]
        assert parent.startswith("self_guide-input-") and rec["meta"]["input_record"]["id"] == parent
    for rec in out.kept:
        assert rec["output"] in task["labels"] and rec["reject_reason"] is None
    if stages["input"]["kept"]:
        requests, results = engine.calls[-1]
        assert all(r.logprobs and r.n == 4 for r in requests)
        # best_of emulation ranks by the engine's cumulative logprobs: they must come back.
        assert all(c.cumulative_logprob is not None for res in results for c in res.completions)
    to_table(out.kept + out.rejects)
