"""Steps: how a generator's coroutine talks to an engine (see `generators.base` for the API).

A generator writes one shard as a coroutine that calls `steps.submit(request)`
(an awaitable for one result) or `await steps.run(requests)` (a list, in
request order). Two adapters run the same coroutine:

- `StreamSteps` sends each request to the shared `StreamingEngine` the moment
  it is submitted; many shards' coroutines run in one event loop, so their
  requests interleave and each continues as soon as its own results return.
- `BatchSteps` serves engines that only take whole batches (`Engine.generate`):
  every request submitted before the coroutine next waits goes out as one
  batch call. This is the batch path (`Generator.run_shard`).

Results never depend on which adapter ran them or on completion order: ids
and seeds come from the requests, and generators combine results in request
order.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from typing import Any, Awaitable, Callable, Coroutine, Sequence, TypeVar

from taskmill.engine.base import Engine, GenerationRequest, GenerationResult, WrapsEngine

T = TypeVar("T")


class Steps(WrapsEngine):
    def __init__(self, engine: Any):
        self.engine = engine
        self.model_name: str = engine.model_name
        self.tokens: Counter = Counter()  # this adapter's requests and tokens (per generator stage)


    def _count(self, result: GenerationResult) -> GenerationResult:
        self.tokens.update(requests=1, prompt_tokens=result.prompt_tokens, completion_tokens=result.completion_tokens)
        return result

    def submit(self, request: GenerationRequest) -> Awaitable[GenerationResult]:
        raise NotImplementedError

    async def run(self, requests: Sequence[GenerationRequest]) -> list[GenerationResult]:
        """All results of one step, in request order."""
        return list(await asyncio.gather(*(self.submit(r) for r in requests)))


class StreamSteps(Steps):
    """Over a `StreamingEngine` (thread-safe, shared by every stage); counts this stage's share."""

    def __init__(self, engine: Any, on_result: Callable[[GenerationResult], None] | None = None):
        super().__init__(engine)
        self.on_result = on_result
        self.first_submit: float | None = None
        self.last_result: float | None = None
        self.outstanding = 0  # submitted, result not yet taken by the generator (bounds open shards)

    def submit(self, request: GenerationRequest) -> Awaitable[GenerationResult]:
        if self.first_submit is None:
            self.first_submit = time.time()
        self.outstanding += 1
        future = asyncio.wrap_future(self.engine.submit(request))

        async def counted() -> GenerationResult:
            try:
                result = self._count(await future)
            finally:
                self.outstanding -= 1
            self.last_result = time.time()
            if self.on_result:
                self.on_result(result)
            return result

        return asyncio.ensure_future(counted())

    def report(self) -> dict[str, Any]:
        """Requests and tokens of this stage; `engine_seconds` from its first request to its last result."""
        wall = (self.last_result - self.first_submit) if self.first_submit and self.last_result else 0.0
        return {
            "requests": self.tokens["requests"],
            "prompt_tokens": self.tokens["prompt_tokens"],
            "completion_tokens": self.tokens["completion_tokens"],
            "engine_seconds": round(wall, 3),
            "engine_started_at": self.first_submit,
            "engine_finished_at": self.last_result,
        }


class BatchSteps(Steps):
    """Over a batch `Engine`: requests submitted in one stretch of the coroutine form one batch."""

    def __init__(self, engine: Engine):
        super().__init__(engine)
        self._pending: list[tuple[GenerationRequest, asyncio.Future]] = []

    def submit(self, request: GenerationRequest) -> Awaitable[GenerationResult]:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        if not self._pending:
            loop.call_soon(self._flush)  # runs once the coroutine waits: everything submitted so far
        self._pending.append((request, future))
        return future

    def _flush(self) -> None:
        batch, self._pending = self._pending, []
        try:
            results = self.engine.generate([request for request, _ in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"engine returned {len(results)} results for {len(batch)} requests")
        except BaseException as exc:  # noqa: BLE001 - raised where the generator awaits
            for _, future in batch:
                future.set_exception(exc)
            return
        for (_, future), result in zip(batch, results):
            future.set_result(self._count(result))


class StepsEngine:
    """A batch `Engine` over `steps`, for a batch-only generator's `run_shard` run in a worker thread."""

    def __init__(self, steps: Steps, loop: asyncio.AbstractEventLoop):
        self.steps, self.loop = steps, loop
        self.model_name = steps.model_name
        self.tokenizer = steps.tokenizer
        self.max_model_len = steps.max_model_len

    def generate(self, requests: Sequence[GenerationRequest], progress: Any = None) -> list[GenerationResult]:
        async def step() -> list[GenerationResult]:
            return await self.steps.run(requests)

        results = asyncio.run_coroutine_threadsafe(step(), self.loop).result()
        if progress:
            progress(len(results))
        return results


def run_coroutine(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from sync code, also when this thread already runs a loop."""
    try:
        asyncio.get_running_loop()
        in_loop = True
    except RuntimeError:
        in_loop = False
    if not in_loop:
        return asyncio.run(coro)
    box: dict[str, Any] = {}

    def runner() -> None:
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=runner)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]
