"""Chain generators: verifiable chains per core, and CoI tokens/s against raw vLLM.

Measures, in one run:
- `verifiable_chains_per_s_per_core`: kept `sifo_chain` records per CPU-second
  of one process over Python's pydoc topics (sentence splitting, operations,
  records and lineage included); baseline: the SQL-execution generator's
  verified tasks per CPU-second on the bundled tables, measured in the same run
  (the other symbolic generator). Goal ≥ 1,000.
- `coi_tokens_ratio`: generated tokens/s of the CoI generator (validity checks,
  steps, parsing, records) ÷ raw `vllm.LLM.generate` on the same recorded
  batches, as in bench/generators.py (alternating runs, fastest of each side).
  Goal ≥ 0.95. Also `coi_generator_overhead_fraction`: the generator's own CPU
  time (prompts, checks, parsing, records; the run replayed from cached engine
  results) ÷ its run time, which the machine's load does not move (goal ≤ 0.05).
Run: flock /tmp/taskmill-vllm.lock .venv/bin/python bench/chains.py [--quick] [--no-llm]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
LIBRARY = str(ROOT / "examples/tasks/coi_tasks.yaml")


def emit(metric: str, value: float, unit: str, baseline, goal) -> None:
    print(json.dumps({"metric": metric, "value": round(value, 4), "unit": unit, "baseline": baseline, "goal": goal}))


def verifiable_per_core(chains_per_document: int) -> tuple[float, int]:
    import pydoc_data.topics as topics

    from generators.chains import SifoChainConfig, SifoChainGenerator

    docs = [{"id": f"pydoc:{k}", "text": v} for k, v in sorted(topics.topics.items())]
    gen = SifoChainGenerator(SifoChainConfig(chains_per_document=chains_per_document), run_seed=1)
    cpu = time.process_time()
    kept = sum(len(gen.run_shard(shard).kept) for shard in gen.plan_shards(docs))
    return kept / (time.process_time() - cpu), kept


def sql_per_core(tasks_per_table: int) -> float:
    from generators.sql import SqlExecConfig, SqlExecGenerator

    gen = SqlExecGenerator(SqlExecConfig(tasks_per_table=tasks_per_table), run_seed=1)
    cpu = time.process_time()
    kept = sum(len(gen.run_shard(shard).kept) for shard in gen.plan_shards([]))
    return kept / (time.process_time() - cpu)


def load_generators_bench():
    """bench/generators.py's compare() (its module name would shadow the `generators` package)."""
    spec = importlib.util.spec_from_file_location("bench_generators", ROOT / "bench/generators.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


class CachingEngine:
    """The real engine, remembering each request's result so the generator can be replayed without it."""

    def __init__(self, engine):
        self.engine, self.llm, self.render = engine, engine.llm, engine.render
        self.model_name, self.settings, self.tokenizer = engine.model_name, engine.settings, engine.tokenizer
        self.cache: dict = {}

    def generate(self, requests, progress=None):
        results = self.engine.generate(requests, progress)
        for request, result in zip(requests, results):
            self.cache[(request.prompt_key(), request.seed, request.max_tokens)] = result
        return results


class ReplayEngine:
    """Answers from the cache at no cost: what is left of a run is the generator's own work."""

    def __init__(self, caching: CachingEngine):
        self.model_name, self.cache = caching.model_name, caching.cache

    def generate(self, requests, progress=None):
        return [self.cache[(r.prompt_key(), r.seed, r.max_tokens)] for r in requests]


def generator_seconds(gen, shards, engine, repeats: int = 5) -> float:
    """Fastest CPU time of the generator's own work (prompts, parsing, records) over the replayed run."""
    best = float("inf")
    for _ in range(repeats):
        cpu = time.process_time()
        for shard in shards:
            gen.run_shard(shard, engine)
        best = min(best, time.process_time() - cpu)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller workloads, one timed run per side")
    parser.add_argument("--no-llm", action="store_true", help="only the verifiable-chain figure (no model load)")
    parser.add_argument("--repeats", type=int, default=None, help="timed runs per side (default 2, quick 1)")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    rate, kept = verifiable_per_core(4 if args.quick else 20)
    baseline = sql_per_core(20 if args.quick else 100)
    print(f"[bench] sifo_chain: {kept} chains, {rate:.0f}/CPU-s; sql_exec baseline {baseline:.0f}/CPU-s", file=sys.stderr)
    emit("verifiable_chains_per_s_per_core", rate, "chains/CPU-s", round(baseline, 1), 1000)
    if args.no_llm:
        return

    from generators.chains import CoiConfig, CoiGenerator
    from taskmill.engine.settings import EngineSettings
    from taskmill.engine.vllm_backend import VLLMEngine

    bench = load_generators_bench()
    engine = CachingEngine(VLLMEngine(EngineSettings()))
    engine.llm.generate(["warm up"], use_tqdm=False)
    config = CoiConfig(
        task_files=[LIBRARY], train_lengths=[2, 3], test_lengths=[], instances_per_task=3,
        max_per_category_tuple=1 if args.quick else 2, step={"max_tokens": 48},
    )  # fmt: skip
    gen = CoiGenerator(config, run_seed=1)
    shards = gen.plan_shards([])
    run = bench.compare("coi", gen, shards, engine, args.repeats or (1 if args.quick else 2))
    kept = sum(len(o.kept) for o in run["outputs"])
    print(f"[bench] coi: {kept} chains kept from {len(shards)} shards", file=sys.stderr)
    raw = round(run["raw_tps"], 2)
    emit("coi_tokens_ratio", run["gen_tps"] / run["raw_tps"], "ratio", raw, 0.95)
    emit("coi_tokens_per_s", run["gen_tps"], "tokens/s", raw, None)
    # The ratio on a shared machine moves with the load; the generator's own share of a run does not.
    own = generator_seconds(gen, shards, ReplayEngine(engine))
    tokens_per_pass = sum(result.completion_tokens for result in engine.cache.values())  # one pass sends each request once
    run_seconds = tokens_per_pass / run["gen_tps"]
    print(f"[bench] coi generator's own work: {own:.3f} CPU-s of a {run_seconds:.1f} s run", file=sys.stderr)
    emit("coi_generator_overhead_fraction", own / run_seconds, "fraction of run time", None, 0.05)


if __name__ == "__main__":
    main()
