"""Bonito and Self-Guide throughput against raw `vllm.LLM.generate` on the same prompts.

One run, one model load: each generator runs its shards through the real
in-process engine while every batch it sends is recorded; the recorded
batches (prompts rendered and SamplingParams built beforehand, outside the
timer) are then replayed straight into the same `vllm.LLM`. After an untimed
warm pass the two sides alternate (raw, gen, gen, raw, ...) and each is
scored by its fastest run, so prefix caching and machine load favour neither. Generator time covers everything in
`run_shard` (prompt building, parsing, filters, records).

Metrics: bonito_tokens_ratio, self_guide_tokens_ratio (generated tokens/s of
the generator ÷ raw; goal ≥ 0.95), plus yields (kept ÷ candidates) per stage.
Run: flock /tmp/taskmill-vllm.lock .venv/bin/python bench/generators.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

START = time.perf_counter()
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

EXAMPLE_TASKS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples/tasks/self_guide_tasks.yaml")


class RecordingEngine:
    """The real engine, plus a log of every batch sent and its generated tokens."""

    def __init__(self, engine):
        self.engine = engine
        self.model_name = engine.model_name
        self.settings = engine.settings
        self.tokenizer = engine.tokenizer
        self.batches: list[list] = []
        self.tokens = 0

    def generate(self, requests, progress=None):
        results = self.engine.generate(requests, progress)
        self.batches.append(list(requests))
        self.tokens += sum(r.completion_tokens for r in results)
        return results


def run_generator(gen, shards, engine) -> tuple[int, float, list, list[list]]:
    recording = RecordingEngine(engine)
    start = time.perf_counter()
    outputs = [gen.run_shard(shard, recording) for shard in shards]
    return recording.tokens, time.perf_counter() - start, outputs, recording.batches


def run_raw(llm, engine, batches) -> tuple[int, float]:
    from taskmill.engine.vllm_backend import sampling_params

    prepared = [([engine.render(r) for r in batch], [sampling_params(r) for r in batch]) for batch in batches]
    tokens, start = 0, time.perf_counter()
    for prompts, params in prepared:
        outputs = llm.generate(prompts, params, use_tqdm=False)
        tokens += sum(len(c.token_ids) for o in outputs for c in o.outputs)
    return tokens, time.perf_counter() - start


def compare(name: str, gen, shards, engine, repeats: int) -> dict:
    """Tokens/s of the generator and of the raw replay, from each side's fastest run.

    The machine is shared, so contention only ever adds time: the fastest of
    several alternating runs is the least noisy estimate of each side.
    """
    _, _, _, batches = run_generator(gen, shards, engine)  # warm pass: also records the batches
    best = {"raw": float("inf"), "gen": float("inf")}
    tokens = {"raw": 0, "gen": 0}
    outputs = None
    for i in range(repeats):
        for side in ("raw", "gen") if i % 2 == 0 else ("gen", "raw"):
            if side == "raw":
                count, seconds = run_raw(engine.llm, engine, batches)
            else:
                count, seconds, outs, _ = run_generator(gen, shards, engine)
                outputs = outputs or outs
            if seconds < best[side]:
                best[side], tokens[side] = seconds, count
            print(f"[bench] {name} {side}: {count} tokens in {seconds:.2f}s", file=sys.stderr, flush=True)
    return {"raw_tps": tokens["raw"] / best["raw"], "gen_tps": tokens["gen"] / best["gen"], "outputs": outputs}


def stage_yield(outputs, stage: str) -> float:
    candidates = sum(o.stats["stages"][stage]["candidates"] for o in outputs)
    kept = sum(o.stats["stages"][stage]["kept"] for o in outputs)
    return kept / candidates if candidates else 0.0


def emit(metric: str, value: float, unit: str, baseline, goal) -> None:
    print(json.dumps({"metric": metric, "value": round(value, 4), "unit": unit, "baseline": baseline, "goal": goal}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer prompts and one timed run per side")
    parser.add_argument("--repeats", type=int, default=None, help="timed runs per side (default 2, quick 1)")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    repeats = args.repeats or (1 if args.quick else 2)

    from generators.bonito import BonitoConfig, BonitoGenerator
    from generators.self_guide import SelfGuideConfig, SelfGuideGenerator
    from taskmill.engine.settings import EngineSettings
    from taskmill.engine.vllm_backend import VLLMEngine
    from taskmill.sources import SourceConfig, load_documents

    # VLLMEngine builds its vllm.LLM from llm_kwargs(settings) (resolve_model + the backend's
    # kwargs); the raw baseline drives that same vllm.LLM object directly.
    start = time.perf_counter()
    engine = VLLMEngine(EngineSettings())
    engine.llm.generate(["warm up"], use_tqdm=False)
    print(f"[bench] engine ready in {time.perf_counter() - start:.1f}s", file=sys.stderr, flush=True)

    n_docs = 2 if args.quick else 4
    docs, _ = load_documents(SourceConfig(kind="pydoc_topics", limit=n_docs, max_chars=600))
    bonito = BonitoGenerator(
        BonitoConfig(method="bonito", tasks={"ynqa": None, "summarization": None}, max_tokens=48), run_seed=1
    )
    bonito_run = compare("bonito", bonito, bonito.plan_shards(docs), engine, repeats)

    self_guide = SelfGuideGenerator(
        SelfGuideConfig(
            method="self_guide", task_files=[EXAMPLE_TASKS], rounds=2, prompts_per_round=2 if args.quick else 4,
            inputs={"max_tokens": 48}, annotation={"best_of": 4, "n_annot": 2, "max_tokens": 8},
        ),  # fmt: skip
        run_seed=1,
    )
    sg_shards = [s for s in self_guide.plan_shards([]) if s["task"]["name"] == "review_sentiment"]
    sg_run = compare("self_guide", self_guide, sg_shards, engine, repeats)

    for name, run in (("bonito", bonito_run), ("self_guide", sg_run)):
        raw = round(run["raw_tps"], 2)
        emit(f"{name}_tokens_ratio", run["gen_tps"] / run["raw_tps"], "ratio", raw, 0.95)
        emit(f"{name}_tokens_per_s", run["gen_tps"], "tokens/s", raw, None)
    emit("bonito_yield", stage_yield(bonito_run["outputs"], "parse"), "kept/candidates", None, None)
    emit("self_guide_input_yield", stage_yield(sg_run["outputs"], "input"), "kept/candidates", None, None)
    emit("self_guide_output_yield", stage_yield(sg_run["outputs"], "output"), "kept/candidates", None, None)
    print(f"[bench] total {time.perf_counter() - START:.0f}s", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
