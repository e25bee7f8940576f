"""The generate stage: plan shards, skip finished ones, stream the rest, store each as it finishes.

LLM generators run their shards as coroutines (`Generator.run_shard_async`)
in one event loop per stage. Many shards are open at once: a new shard is
started while the shared engine dispatcher has fewer queued requests than
it keeps in flight, so the engine never waits for a shard to be planned or
saved. Stages of different generators run side by side (the pipeline submits
them together) and share one dispatcher per engine. Symbolic generators run
their shards as Ray tasks. Every shard is written atomically as soon as its
last result is in; a shard stays the unit of resume, and its content does
not depend on the order in which requests or shards finish.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows.progress import LIVE, StageProgress, generation_done
from generators.base import Generator, GeneratorConfig, ShardOutput, load_generator_class
from taskmill.config import RunConfig
from taskmill.engine.steps import StreamSteps, run_coroutine
from taskmill.engine.streaming import StreamingEngine
from taskmill.records import to_table
from taskmill.store import RunStore

POLL_S = 0.05  # how often the stage re-checks the dispatcher's queue to open more shards
MAX_UNSAVED = 4  # finished shards waiting for their write before no new shard opens


# Stage folders are keyed by the generator's stage name (`GeneratorConfig.name`), not its
# method: two generators of one method must not share shards.
def generated_stage(name: str) -> str:
    return f"generated/{name}"


def rejects_stage(name: str) -> str:
    return f"rejects/generate-{name}"


def intermediate_stage(name: str) -> str:
    return f"intermediate/{name}"


def run_symbolic_shard(shard: Any, config: GeneratorConfig, run_seed: int) -> ShardOutput:
    """Top-level so Ray can ship it: rebuilds the generator inside the worker."""
    generator = load_generator_class(config.method)(config, run_seed)
    return generator.run_shard(shard, None)


_STORES: dict[str, RunStore] = {}
_STORES_LOCK = threading.Lock()


def shared_store(run_dir: str) -> RunStore:
    """One RunStore per run dir in this process: stages running side by side share its manifest lock."""
    with _STORES_LOCK:
        if run_dir not in _STORES:
            _STORES[run_dir] = RunStore(run_dir)
        return _STORES[run_dir]


def _save(store: RunStore, name: str, index: int, out: ShardOutput, seconds: float) -> None:
    # Rejects and intermediates first: a shard counts as done only once its kept file exists.
    store.write_shard(rejects_stage(name), index, to_table(out.rejects))
    if out.intermediate:
        store.write_shard(intermediate_stage(name), index, to_table(out.intermediate))
    store.write_shard(generated_stage(name), index, to_table(out.kept))
    store.record_shard(generated_stage(name), index, len(out.kept), seconds, rejects=len(out.rejects), stats=out.stats)


async def stream_shards(
    generator: Generator, shards: list[Any], todo: list[int], stream: StreamingEngine,
    save: Any, on_shard_done: Any = None, steps: StreamSteps | None = None,
) -> StreamSteps:  # fmt: skip
    """Run `todo` shards with as many open as keep `stream` fed; `save(index, out, seconds)` each when done.

    A shard is opened while the dispatcher's queue (submitted, not yet in flight) is
    shorter than its in-flight bound, this stage has fewer than twice that many
    requests whose results it has not taken yet, and fewer than `MAX_UNSAVED`
    finished shards wait for their write; at most `stream.max_in_flight` shards are
    open. So memory stays bounded whatever the number of shards.
    """
    steps = steps or StreamSteps(stream)
    upcoming = iter(todo)
    open_shards: set[asyncio.Task] = set()

    unsaved = [0]  # shards generated and waiting to be written

    async def one(index: int) -> None:
        start = time.perf_counter()
        out = await generator.run_shard_async(shards[index], steps)
        unsaved[0] += 1
        try:
            await asyncio.to_thread(save, index, out, time.perf_counter() - start)
        finally:
            unsaved[0] -= 1
        if on_shard_done:
            on_shard_done(index)

    def room() -> bool:
        # Backpressure from both ends: the engine's queue, and storage (finished shards hold
        # their records until written, so they must not pile up when writing is the slow part).
        # A fast engine can finish requests quicker than the generators take the results, so
        # this stage's own outstanding requests are bounded too, not just the engine's queue.
        return (
            len(open_shards) < stream.max_in_flight
            and stream.backlog() < stream.max_in_flight
            and steps.outstanding < 2 * stream.max_in_flight
            and unsaved[0] < MAX_UNSAVED
        )

    exhausted = False
    try:
        while True:
            while not exhausted and room():
                index = next(upcoming, None)
                if index is None:
                    exhausted = True
                    break
                open_shards.add(asyncio.create_task(one(index)))
                await asyncio.sleep(0)  # let it submit its first requests before looking at the queue again
            if not open_shards:
                if exhausted:
                    return steps
                await asyncio.sleep(POLL_S)  # the shared queue is full of other stages' requests: wait for room
                continue
            done, open_shards = await asyncio.wait(open_shards, timeout=POLL_S, return_when=asyncio.FIRST_COMPLETED)
            for finished in done:
                finished.result()  # a shard that raised stops the stage; saved shards stay for resume
    finally:
        for pending in open_shards:
            pending.cancel()


async def _symbolic_shards(cfg: RunConfig, gen_config: GeneratorConfig, shards: list[Any], todo: list[int], save: Any, on_shard_done: Any) -> None:
    """Symbolic shards as Ray tasks, each saved the moment it returns (results are not held)."""
    import ray

    remote = ray.remote(num_cpus=cfg.ray.task_cpus)(run_symbolic_shard)
    config_ref = ray.put(gen_config)
    slots = asyncio.Semaphore(max(2, int(ray.available_resources().get("CPU", 2) / cfg.ray.task_cpus)))

    async def one(index: int) -> None:
        async with slots:
            start = time.perf_counter()
            out = await remote.remote(shards[index], config_ref, cfg.seed)
        await asyncio.to_thread(save, index, out, time.perf_counter() - start)
        on_shard_done(index)

    await asyncio.gather(*(one(i) for i in todo))


@task(name="generate", task_run_name="generate-{gen_config.name}", cache_policy=NO_CACHE)
def generate_stage(cfg: RunConfig, gen_config: GeneratorConfig, documents: list[dict]) -> dict[str, Any]:
    logger = get_run_logger()
    store = shared_store(cfg.run_dir)
    generator = load_generator_class(gen_config.method)(gen_config, cfg.seed)
    shards = generator.plan_shards(documents)
    name = gen_config.name or gen_config.method
    todo = [i for i in range(len(shards)) if not store.has_shard(generated_stage(name), i)]
    logger.info("%s: %d shards planned, %d already done, %d to run", name, len(shards), len(shards) - len(todo), len(todo))
    report: dict[str, Any] = {"name": name, "method": gen_config.method, "shards": len(shards), "resumed": len(shards) - len(todo)}
    if not todo:
        generation_done(cfg.run_dir, store, name, report, generated_stage(name), rejects_stage(name))
        return report
    start = time.perf_counter()
    report["started_at"] = time.time()  # wall clock: stages running side by side overlap
    progress = StageProgress(f"generate-{name}", "shards done")
    LIVE.start(name, len(shards), done=len(shards) - len(todo))
    finished: list[int] = []

    def save(index: int, out: ShardOutput, seconds: float) -> None:
        _save(store, name, index, out, seconds)

    def shard_done(index: int) -> None:
        finished.append(index)
        progress.advance(len(finished), len(todo))
        LIVE.shard_done(name)

    if generator.needs_engine:
        from flows.stages import started_engine

        stream = started_engine(cfg)
        steps = StreamSteps(stream, on_result=lambda _result: LIVE.request_done(name))
        run_coroutine(stream_shards(generator, shards, todo, stream, save, shard_done, steps))
        report.update(steps.report())
    else:
        run_coroutine(_symbolic_shards(cfg, gen_config, shards, todo, save, shard_done))
    missing = sorted(set(todo) - set(finished))
    if missing:  # never report a stage done with shards silently left out
        raise RuntimeError(f"{name}: shards {missing[:10]} did not run ({len(missing)} of {len(todo)})")
    report["seconds"] = round(time.perf_counter() - start, 3)
    report["finished_at"] = time.time()
    generation_done(cfg.run_dir, store, name, report, generated_stage(name), rejects_stage(name))
    return report
