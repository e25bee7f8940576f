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

Documents stream too: the stage gets the run's `DocumentStream` (or a list),
and `ShardPlan` walks the generator's `iter_shards` over it twice, once to
count shards and once, lazily, as shards open; so neither all documents nor
all shards are held, and a shard's index and content come from the plan
order alone.
"""

from __future__ import annotations

import asyncio
import posixpath
import threading
import time
from typing import Any, Iterable, Iterator

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows.progress import LIVE, StageProgress, generation_done
from generators.base import Generator, GeneratorConfig, ShardOutput, generator_seed, load_generator_class
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
    generator: Generator, shards: Iterable[Any], todo: list[int] | None, stream: StreamingEngine,
    save: Any, on_shard_done: Any = None, steps: StreamSteps | None = None,
) -> StreamSteps:  # fmt: skip
    """Run `todo` shards with as many open as keep `stream` fed; `save(index, out, seconds)` each when done.

    `shards` is a list indexed by `todo`, or (with `todo=None`) an iterable of
    `(index, shard)` pairs that is consumed only as shards open (`ShardPlan.pending`).

    A shard is opened while the dispatcher's queue (submitted, not yet in flight) is
    shorter than its in-flight bound, this stage has fewer than twice that many
    requests whose results it has not taken yet, and fewer than `MAX_UNSAVED`
    finished shards wait for their write; at most `stream.max_in_flight` shards are
    open. So memory stays bounded whatever the number of shards.
    """
    steps = steps or StreamSteps(stream)
    upcoming = iter(shards) if todo is None else ((i, shards[i]) for i in todo)
    open_shards: set[asyncio.Task] = set()

    unsaved = [0]  # shards generated and waiting to be written

    async def one(index: int, shard: Any) -> None:
        start = time.perf_counter()
        out = await generator.run_shard_async(shard, steps)
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
                pair = next(upcoming, None)
                if pair is None:
                    exhausted = True
                    break
                open_shards.add(asyncio.create_task(one(*pair)))
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


async def _symbolic_shards(cfg: RunConfig, gen_config: GeneratorConfig, pending: Iterable[tuple[int, Any]], save: Any, on_shard_done: Any) -> None:
    """Symbolic shards as Ray tasks, each saved the moment it returns; at most `slots` planned at once."""
    import ray

    remote = ray.remote(num_cpus=cfg.ray.task_cpus)(run_symbolic_shard)
    config_ref = ray.put(gen_config)
    slots = max(2, int(ray.available_resources().get("CPU", 2) / cfg.ray.task_cpus))

    async def one(index: int, shard: Any) -> None:
        start = time.perf_counter()
        out = await remote.remote(shard, config_ref, generator_seed(cfg.seed, gen_config))
        await asyncio.to_thread(save, index, out, time.perf_counter() - start)
        on_shard_done(index)

    running: set[asyncio.Task] = set()
    failed: BaseException | None = None
    for index, shard in pending:  # the plan is consumed as slots free up: shards are never all in memory
        running.add(asyncio.create_task(one(index, shard)))
        if len(running) >= slots:
            done, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            failed = failed or next((t.exception() for t in done if t.exception()), None)
            if failed:
                break
    if running:
        done, _ = await asyncio.wait(running)  # shards already running finish and are saved
        failed = failed or next((t.exception() for t in done if t.exception()), None)
    if failed:
        raise failed


class ShardPlan:
    """A generator's shards over `documents`, walked lazily: counted once, then streamed.

    Generators that plan from documents (`iter_shards` overridden) are re-planned on
    each walk, so no list of shards (or of documents) is built; the others plan once.
    """

    def __init__(self, generator: Generator, documents: Iterable[dict]):
        self.generator = generator
        self.documents = documents
        self.listed = None if type(generator).iter_shards is not Generator.iter_shards else generator.plan_shards(documents)

    def __iter__(self) -> Iterator[Any]:
        return iter(self.listed) if self.listed is not None else self.generator.iter_shards(self.documents)

    def count(self, done: set[int]) -> tuple[int, int]:
        """(shards planned, shards among them in `done`)."""
        total = finished = 0
        for index, _ in enumerate(self):
            total += 1
            finished += index in done
        return total, finished

    def pending(self, done: set[int]) -> Iterator[tuple[int, Any]]:
        """(index, shard) of the shards not in `done`, in plan order."""
        return ((i, shard) for i, shard in enumerate(self) if i not in done)


def done_shards(store: RunStore, stage: str) -> set[int]:
    """Indices of the shards already written for `stage` (resume skips them)."""
    names = {posixpath.basename(p) for p in store.shard_paths(stage)}
    return {int(n[len("shard-") : -len(".parquet")]) for n in names if n[len("shard-") : -len(".parquet")].isdigit()}


@task(name="generate", task_run_name="generate-{gen_config.name}", cache_policy=NO_CACHE)
def generate_stage(cfg: RunConfig, gen_config: GeneratorConfig, documents: Iterable[dict]) -> dict[str, Any]:
    """One generator's stage over `documents` (a list, or the run's re-iterable `DocumentStream`)."""
    logger = get_run_logger()
    store = shared_store(cfg.run_dir)
    generator = load_generator_class(gen_config.method)(gen_config, generator_seed(cfg.seed, gen_config))
    name = gen_config.name or gen_config.method
    plan = ShardPlan(generator, documents)
    done = done_shards(store, generated_stage(name))
    planned, resumed = plan.count(done)
    todo = planned - resumed
    logger.info("%s: %d shards planned, %d already done, %d to run", name, planned, resumed, todo)
    report: dict[str, Any] = {"name": name, "method": gen_config.method, "shards": planned, "resumed": resumed}
    if not todo:
        store.mark_stage_done(generated_stage(name), planned=planned)  # `taskmill inspect` shows it done
        generation_done(cfg.run_dir, store, name, report, generated_stage(name), rejects_stage(name))
        return report
    start = time.perf_counter()
    report["started_at"] = time.time()  # wall clock: stages running side by side overlap
    progress = StageProgress(f"generate-{name}", "shards done")
    LIVE.start(name, planned, done=resumed)
    finished: set[int] = set()

    def save(index: int, out: ShardOutput, seconds: float) -> None:
        _save(store, name, index, out, seconds)

    def shard_done(index: int) -> None:
        finished.add(index)
        progress.advance(len(finished), todo)
        LIVE.shard_done(name)

    if generator.needs_engine:
        from flows.stages import started_engine

        stream = started_engine(cfg)
        steps = StreamSteps(stream, on_result=lambda _result: LIVE.request_done(name))
        run_coroutine(stream_shards(generator, plan.pending(done), None, stream, save, shard_done, steps))
        report.update(steps.report())
    else:
        run_coroutine(_symbolic_shards(cfg, gen_config, plan.pending(done), save, shard_done))
    if len(finished) != todo:  # never report a stage done with shards silently left out
        missing = sorted(i for i, _ in plan.pending(done | finished))
        raise RuntimeError(f"{name}: shards {missing[:10]} did not run ({len(missing)} of {todo})")
    report["seconds"] = round(time.perf_counter() - start, 3)
    report["finished_at"] = time.time()
    store.mark_stage_done(generated_stage(name), planned=planned)  # `taskmill inspect` shows it done
    generation_done(cfg.run_dir, store, name, report, generated_stage(name), rejects_stage(name))
    return report
