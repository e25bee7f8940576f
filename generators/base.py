"""The generator contract every method implements.

A generator splits its work into shards (`plan_shards`) and turns one shard
into records. The flow owns storage and resume: it skips shards already
written, runs the others and writes kept records and rejects separately.
A generator never drops a candidate silently: every candidate it does not
keep comes back in `rejects` with `reject_reason` set.

Symbolic generators (`needs_engine = False`) implement `run_shard(shard, None)`;
the flow runs their shards as Ray tasks.

LLM generators implement one coroutine per shard, the step API:

    async def run_shard_async(self, shard, steps) -> ShardOutput

`steps` (`taskmill.engine.steps`) has `model_name`, `tokenizer` (or None),
`max_model_len` (or None) and two calls:

- `steps.submit(request)`: an awaitable for that one request's result;
- `await steps.run(requests)`: one step's results, in request order.

A multi-step method releases an item's next request as soon as that item's
previous result is in: await the item's own future, build the follow-up and
submit it (e.g. one `asyncio.create_task` per item running its chain of
steps), rather than waiting for the whole step of every item. A chain method
looks like:

    async def run_shard_async(self, shard, steps):
        async def chain(item):
            first = await steps.submit(self.first_request(item))
            second = await steps.submit(self.next_request(item, first))  # sent once `first` is in
            return self.records(item, first, second)
        per_item = await asyncio.gather(*(chain(item) for item in shard["items"]))  # item order
        ...

Steps that
depend on each other (Self-Guide's rounds feed the next round's prompts) stay
sequential inside the shard; the engine stays full because the flow runs many
shards' coroutines at once (`flows/generate.py`). Rules that keep the output
independent of timing: derive every seed from the item (never from
completion order), and put results together in request order, not in the
order they arrive. Per-request failures arrive as results with `error` and
`error_code` set (`prompt_too_long`, `engine_error`): turn them into rejects.

`run_shard(shard, engine)` runs the same coroutine against a batch `Engine`
(`BatchSteps`: the requests submitted before the coroutine next waits form
one `generate` call); tests and benchmarks use it.
"""

from __future__ import annotations

import asyncio
import importlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Iterable, Iterator

from pydantic import BaseModel, ConfigDict, Field

from taskmill.engine.base import Engine

if TYPE_CHECKING:
    from taskmill.engine.steps import Steps


class GeneratorConfig(BaseModel):
    """Base for each generator's config; `method` selects the generator."""

    model_config = ConfigDict(extra="forbid")
    method: str
    # The generator's stage name in the run dir (`generated/<name>/`). Default: the method for
    # the first generator of a method, `<method>-2`, `<method>-3`, ... for later ones, so
    # appending a generator never renames the stages of those before it (resume stays valid).
    name: str | None = Field(None, pattern=r"^[A-Za-z0-9_.-]+$", max_length=64)
    shard_size: int = Field(64, ge=1)  # work items per shard: the unit of resume


@dataclass
class ShardOutput:
    kept: list[dict] = field(default_factory=list)
    rejects: list[dict] = field(default_factory=list)
    # Records a kept record was built from but that are not training data themselves
    # (e.g. Self-Guide's accepted Stage-1 inputs); stored so every `parents` id resolves.
    intermediate: list[dict] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)  # e.g. candidates per stage, for yield reports


def generator_seed(run_seed: int, config: GeneratorConfig) -> int:
    """The seed a generator derives all of its seeds (and so its record ids) from.

    The first generator of a method (stage name = method) uses the run seed as is, so existing runs
    keep their records; any other (`bonito-2`, a user-named `hot`) salts it with its stage name. Without
    the salt, two Bonito generators over the same passages and model, differing only in sampling,
    drew the same seeds and wrote records with the same ids, which dedup and the per-generator
    funnel then confused."""
    from taskmill.records import derive_seed

    name = config.name or config.method
    return run_seed if name == config.method else derive_seed(run_seed, "generator", name)


class Generator:
    method: ClassVar[str]
    Config: ClassVar[type[GeneratorConfig]]
    needs_engine: ClassVar[bool] = True

    def __init__(self, config: GeneratorConfig, run_seed: int):
        self.config = config
        self.run_seed = run_seed

    def plan_shards(self, documents: Iterable[dict]) -> list[Any]:
        """Split the work into JSON-able shard payloads, deterministically.

        `documents` are the run's source documents ({"id", "text", ...}); a
        generator with its own inputs (task specs, tables) may ignore them.
        """
        raise NotImplementedError

    def iter_shards(self, documents: Iterable[dict]) -> Iterator[Any]:
        """The shards of `plan_shards`, one at a time (what the flow calls).

        `documents` may be the run's `DocumentStream` (re-iterable, read from the run dir in
        batches). A generator that plans from documents overrides this to stream them: the
        flow walks the plan twice (count, then run) and never holds it whole. A shard's
        content must depend only on the documents and the config, never on batch sizes.
        """
        return iter(self.plan_shards(documents))

    def run_shard(self, shard: Any, engine: Engine | None) -> ShardOutput:
        """One shard through a batch engine (LLM generators) or no engine (symbolic ones)."""
        if engine is None:
            raise ValueError(f"{self.method} needs an engine")
        from taskmill.engine.steps import BatchSteps, run_coroutine

        return run_coroutine(self.run_shard_async(shard, BatchSteps(engine)))

    async def run_shard_async(self, shard: Any, steps: "Steps") -> ShardOutput:
        """One shard as a coroutine over `steps` (see the module docstring).

        A generator that only implements the batch `run_shard(shard, engine)` still
        streams: its shard runs in a worker thread, each `generate` call going through
        `steps` (so other shards fill the engine meanwhile).
        """
        if type(self).run_shard is Generator.run_shard:
            raise NotImplementedError(f"{type(self).__name__} implements neither run_shard_async nor run_shard")
        from taskmill.engine.steps import StepsEngine

        loop = asyncio.get_running_loop()
        return await asyncio.to_thread(self.run_shard, shard, StepsEngine(steps, loop))


def load_generator_class(method: str) -> type[Generator]:
    from generators import REGISTRY

    if method not in REGISTRY:
        raise ValueError(f"unknown generator method {method!r}; allowed: {sorted(REGISTRY)}")
    module_name, _, class_name = REGISTRY[method].partition(":")
    return getattr(importlib.import_module(module_name), class_name)
