"""vLLM engines in long-lived Ray actors: one model load per actor, requests streamed.

`RayVLLMEngine` is what the flow uses. It starts `num_engines` async actors,
each holding one `AsyncVLLMEngine` (vLLM's continuous-batching async engine).
Every request is its own actor call: `submit` routes it to the actor with the
fewest requests in flight and returns a future that resolves when that
request finishes, so results come back one by one and new requests join the
running batch at once. `generate` (the batch `Engine` interface) submits a
whole list and returns the results in request order.

Placement: each actor asks Ray for `actor_num_cpus` CPUs and `actor_num_gpus`
GPUs; with `tensor_parallel_size` > 1 give each actor that many GPUs (vLLM
then shards the model over them inside the actor). `num_engines` actors are
data parallelism: on a Ray cluster they land on whichever nodes have the GPUs.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future
from typing import Any, Sequence

from taskmill.engine.base import GenerationRequest, GenerationResult, ProgressFn, generate_by_submit
from taskmill.engine.settings import EngineSettings


class _EngineActor:
    """Ray async actor: its methods share one event loop, where vLLM's AsyncLLM lives."""

    def __init__(self, settings: dict[str, Any]):
        self.settings = EngineSettings(**settings)
        self.engine: Any = None

    async def ready(self) -> dict[str, Any]:
        if self.engine is None:
            from taskmill.engine.vllm_async import AsyncVLLMEngine

            self.engine = AsyncVLLMEngine(self.settings)
        return {"model_name": self.engine.model_name, "kwargs": self.engine.kwargs}

    async def generate_one(self, request: GenerationRequest) -> GenerationResult:
        return await self.engine.generate(request)

    async def busy(self) -> dict[str, Any]:
        return vars(self.engine.meter.snapshot())

    async def shutdown(self) -> None:
        if self.engine is not None:
            self.engine.shutdown()


class RayVLLMEngine:
    def __init__(self, settings: EngineSettings):
        import ray

        from taskmill.models import display_name, resolve_model

        if not ray.is_initialized():
            raise RuntimeError("RayVLLMEngine needs ray.init() first (taskmill.ray_runtime.ensure_ray)")
        self.model_path = resolve_model(settings.name)  # convert the packaged model once, here, not in every actor
        self.settings = settings
        self.model_name = display_name(settings.name)
        self.max_model_len = settings.max_model_len
        actor_cls = ray.remote(_EngineActor).options(
            num_cpus=settings.actor_num_cpus,
            num_gpus=settings.actor_num_gpus,
            max_concurrency=max(1000, 4 * settings.in_flight_per_engine()),
        )
        self.actors = [actor_cls.remote(settings.model_dump()) for _ in range(settings.num_engines)]
        infos = ray.get([a.ready.remote() for a in self.actors])
        self.llm_kwargs = infos[0]["kwargs"]
        self._lock = threading.Lock()
        self.in_flight = [0] * len(self.actors)
        # The model's tokenizer in this process, for token budgets. Loaded here, once: stages run
        # in threads, and transformers' lazy imports are not safe to race.
        from transformers import AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(self.model_path)

    def submit(self, request: GenerationRequest) -> "Future[GenerationResult]":
        """Send one request to the least-loaded actor; the future resolves when it finishes."""
        with self._lock:
            index = min(range(len(self.actors)), key=self.in_flight.__getitem__)
            self.in_flight[index] += 1
        future = self.actors[index].generate_one.remote(request).future()

        def release(_: Future) -> None:
            with self._lock:
                self.in_flight[index] -= 1

        future.add_done_callback(release)
        return future

    def generate(self, requests: Sequence[GenerationRequest], progress: ProgressFn | None = None) -> list[GenerationResult]:
        return generate_by_submit(self.submit, requests, progress)

    def busy(self) -> list[dict[str, Any]]:
        """Each actor's engine-side busy meter (`BusySnapshot` fields)."""
        import ray

        return ray.get([a.busy.remote() for a in self.actors])

    def shutdown(self) -> None:
        import ray

        for actor in self.actors:
            try:
                ray.get(actor.shutdown.remote(), timeout=30)
            except Exception:  # noqa: BLE001 - a dead actor needs no shutdown
                pass
            ray.kill(actor)
        self.actors = []
