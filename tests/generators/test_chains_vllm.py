"""Chain generators on the real engine: CoI on vLLM, and both chain generators in the Prefect flow.

The 135M packaged model writes weak chains, so these tests check the
protocol and the lineage (transcripts parse back to the outputs the engine
returned, every candidate is kept or rejected with a known code), not quality.
Run under `flock /tmp/taskmill-vllm.lock` (one vLLM model at a time).
"""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from generators.chains import COI_REJECT_CODES, CoiConfig, CoiGenerator, check_record, parse_transcript
from taskmill.records import from_table

pytestmark = pytest.mark.vllm

TASKS = [
    {
        "id": "headline", "category": "headline_generation",
        "instruction": "Write a short headline, at most eight words, for the paragraph.",
        "instances": [
            {"input": "The city council voted on Tuesday to keep the library open until 9 pm on weekdays.",
             "output": "Council extends weekday library hours"},
            {"input": "Heavy snow closed the mountain pass for the second time this week.",
             "output": "Snow closes mountain pass again"},
        ],
    },
    {
        "id": "uppercase", "category": "text_rewriting",
        "instruction": "Rewrite the text in capital letters.",
        "instances": [{"input": "good morning", "output": "GOOD MORNING"}],
    },
]  # fmt: skip


class Recording:
    def __init__(self, engine):
        self.engine, self.model_name, self.calls = engine, engine.model_name, []

    def generate(self, requests, progress=None):
        results = self.engine.generate(requests, progress)
        self.calls.append((list(requests), results))
        return results


def test_coi_on_vllm(vllm_engine):
    config = CoiConfig(tasks=TASKS, train_lengths=[2], test_lengths=[], step={"max_tokens": 32})
    gen = CoiGenerator(config, run_seed=11)
    engine = Recording(vllm_engine)
    outs = [gen.run_shard(shard, engine) for shard in gen.plan_shards([])]
    kept = [r for o in outs for r in o.kept]
    rejects = [r for o in outs for r in o.rejects]
    # headline→uppercase: 2 instances; uppercase→headline: 1; nothing dropped silently
    assert len(kept) + len(rejects) == 3
    assert {r["reject_reason"] for r in rejects} <= set(COI_REJECT_CODES)
    answers = {r.seed: res.texts[0].strip() for reqs, results in engine.calls for r, res in zip(reqs, results)}
    validity = [r for reqs, _ in engine.calls for r in reqs if r.choices]
    assert len(validity) == 3 and all(answers[r.seed] in ("yes", "no") for r in validity)
    for rec in kept:
        assert rec["model"] == vllm_engine.model_name and rec["sampling"]["temperature"] == 0.0
        assert rec["sampling"]["max_tokens"] == 32 and rec["prompt_tokens"] > 0
        outputs = parse_transcript(rec["output"], steps=2)
        assert outputs[1] == answers[rec["seed"]]  # the transcript holds what the engine wrote
        assert check_record(rec) == [] and rec["meta"]["validity_checks"][0]["ok"]
    for rec in rejects:
        assert rec["meta"]["curation"]["stage"] == "coi"


@pytest.mark.slow
def test_flow_runs_chains_after_their_sources(tmp_path, prefect_harness, vllm_engine):
    from flows.pipeline import pipeline

    docs = [
        "The ferry leaves the harbour at seven in the morning and at five in the evening. On Sundays only the morning boat runs.",
        "Copper conducts heat well, which is why many cooking pans have a copper base. It also resists corrosion in water pipes.",
    ]
    config = {
        "name": "chains", "run_root": str(tmp_path / "runs"), "seed": 3,
        "sources": [{"kind": "inline", "texts": docs}],
        "generators": [
            {"method": "coi", "from_generators": ["bonito"], "tasks": TASKS[1:], "train_lengths": [2],
             "test_lengths": [], "step": {"max_tokens": 48}},
            {"method": "bonito", "tasks": {"summarization": None}, "max_tokens": 64},
            {"method": "sifo_chain", "chains_per_document": 3},
        ],
        "curation": {}, "selection": {"method": "none"}, "export": {"formats": ["alpaca"]},
    }  # fmt: skip
    summary = pipeline(config=config)
    run_dir = summary["run_dir"]
    bonito = from_table(pq.read_table(f"{run_dir}/generated/bonito"))
    coi = from_table(pq.read_table(f"{run_dir}/generated/coi"))
    coi_rejects = from_table(pq.read_table(f"{run_dir}/rejects/generate-coi"))
    sifo = from_table(pq.read_table(f"{run_dir}/generated/sifo_chain"))
    assert len(sifo) == 6 and all(check_record(r) == [] for r in sifo)
    # coi ran after bonito: its candidates are built on bonito's kept records
    bonito_ids = {r["id"] for r in bonito}
    chains = coi + coi_rejects
    assert bonito_ids and chains
    drawn = [r for r in chains if r["meta"]["task_sources"][0] == "generated/bonito"]
    assert drawn and all(r["parents"][0] in bonito_ids for r in drawn)
    assert all(check_record(r) == [] for r in coi)
    exported = from_table(pq.read_table(summary["export"]["records"]))
    assert {"sifo_chain"} <= {r["method"] for r in exported}
