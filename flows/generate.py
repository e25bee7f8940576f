"""The generate stage: plan shards, skip finished ones, run the rest, store them.

LLM generators run shard by shard against the engine actors (one batch per
shard keeps vLLM's batch full and makes each shard the unit of resume);
symbolic generators run their shards as Ray tasks on all cores.
"""

from __future__ import annotations

import time
from typing import Any

from prefect import get_run_logger, task
from prefect.artifacts import create_progress_artifact, update_progress_artifact
from prefect.cache_policies import NO_CACHE
from tqdm.auto import tqdm

from generators.base import GeneratorConfig, ShardOutput, load_generator_class
from taskmill.config import RunConfig
from taskmill.engine.factory import get_engine
from taskmill.engine.metered import MeteredEngine
from taskmill.executors import RayExecutor
from taskmill.records import to_table
from taskmill.store import RunStore


# Stage folders are keyed by the generator's stage name (`GeneratorConfig.name`), not its
# method: two generators of one method must not share shards.
def generated_stage(name: str) -> str:
    return f"generated/{name}"


def rejects_stage(name: str) -> str:
    return f"rejects/generate-{name}"


def run_symbolic_shard(shard: Any, config: GeneratorConfig, run_seed: int) -> ShardOutput:
    """Top-level so Ray can ship it: rebuilds the generator inside the worker."""
    generator = load_generator_class(config.method)(config, run_seed)
    return generator.run_shard(shard, None)


def intermediate_stage(name: str) -> str:
    return f"intermediate/{name}"


def _save(store: RunStore, name: str, index: int, out: ShardOutput, seconds: float) -> None:
    # Rejects and intermediates first: a shard counts as done only once its kept file exists.
    store.write_shard(rejects_stage(name), index, to_table(out.rejects))
    if out.intermediate:
        store.write_shard(intermediate_stage(name), index, to_table(out.intermediate))
    store.write_shard(generated_stage(name), index, to_table(out.kept))
    store.record_shard(generated_stage(name), index, len(out.kept), seconds, rejects=len(out.rejects), stats=out.stats)


@task(name="generate", task_run_name="generate-{gen_config.name}", cache_policy=NO_CACHE)
def generate_stage(cfg: RunConfig, gen_config: GeneratorConfig, documents: list[dict]) -> dict[str, Any]:
    logger = get_run_logger()
    store = RunStore(cfg.run_dir)
    generator = load_generator_class(gen_config.method)(gen_config, cfg.seed)
    shards = generator.plan_shards(documents)
    name = gen_config.name or gen_config.method
    todo = [i for i in range(len(shards)) if not store.has_shard(generated_stage(name), i)]
    logger.info("%s: %d shards planned, %d already done, %d to run", name, len(shards), len(shards) - len(todo), len(todo))
    report: dict[str, Any] = {"name": name, "method": gen_config.method, "shards": len(shards), "resumed": len(shards) - len(todo)}
    if not todo:
        return report
    start = time.perf_counter()
    progress_id = create_progress_artifact(progress=0.0, description=f"{name}: shards done")
    if generator.needs_engine:
        bar = tqdm(desc=f"{name} requests", unit="req", dynamic_ncols=True)
        engine = MeteredEngine(get_engine(cfg.engine), on_progress=bar.update)
        for done, index in enumerate(todo, 1):
            shard_start = time.perf_counter()
            out = generator.run_shard(shards[index], engine)
            _save(store, name, index, out, time.perf_counter() - shard_start)
            update_progress_artifact(progress_id, progress=100.0 * done / len(todo))
            bar.set_postfix(shard=f"{done}/{len(todo)}", tok_s=f"{engine.stats.tokens_per_s:.0f}")
        bar.close()
        report.update(
            requests=engine.stats.requests,
            prompt_tokens=engine.stats.prompt_tokens,
            completion_tokens=engine.stats.completion_tokens,
            engine_seconds=round(engine.stats.seconds, 3),
        )
    else:
        executor = RayExecutor(num_cpus=cfg.ray.task_cpus)
        outputs = executor.map(run_symbolic_shard, [shards[i] for i in todo], gen_config, cfg.seed)
        for done, (index, out) in enumerate(zip(todo, outputs), 1):
            _save(store, name, index, out, 0.0)
            update_progress_artifact(progress_id, progress=100.0 * done / len(todo))
    report["seconds"] = round(time.perf_counter() - start, 3)
    return report
