"""vLLM engines in long-lived Ray actors: one model load per actor, many batches.

`RayVLLMEngine` is what the flow uses. It starts `num_engines` actors (each
holding one `VLLMEngine`), splits every batch across them, and reports
progress by polling each actor's finished-request counter while the batch
runs (actors are threaded, so the poll is answered mid-batch).
"""

from __future__ import annotations

from typing import Any, Sequence

from taskmill.engine.base import GenerationRequest, GenerationResult, ProgressFn
from taskmill.engine.settings import EngineSettings


class _EngineActor:
    def __init__(self, settings: dict[str, Any]):
        from taskmill.engine.vllm_backend import VLLMEngine

        self.engine = VLLMEngine(EngineSettings(**settings))

    def ready(self) -> dict[str, Any]:
        return {"model_name": self.engine.model_name, "kwargs": self.engine.kwargs}

    def generate(self, requests: list[GenerationRequest]) -> list[GenerationResult]:
        return self.engine.generate(requests)

    def finished(self) -> int:
        return self.engine.finished_requests()


class RayVLLMEngine:
    def __init__(self, settings: EngineSettings, poll_s: float = 0.5):
        import ray

        from taskmill.models import display_name, resolve_model

        if not ray.is_initialized():
            raise RuntimeError("RayVLLMEngine needs ray.init() first (taskmill.ray_runtime.ensure_ray)")
        resolve_model(settings.name)  # convert the packaged model once, here, not in every actor
        self.settings = settings
        self.model_name = display_name(settings.name)
        self.poll_s = poll_s
        actor_cls = ray.remote(_EngineActor).options(
            num_cpus=settings.actor_num_cpus,
            num_gpus=settings.actor_num_gpus,
            max_concurrency=2,  # one thread generates, the other answers progress polls
        )
        self.actors = [actor_cls.remote(settings.model_dump()) for _ in range(settings.num_engines)]
        infos = ray.get([a.ready.remote() for a in self.actors])
        self.llm_kwargs = infos[0]["kwargs"]

    def generate(self, requests: Sequence[GenerationRequest], progress: ProgressFn | None = None) -> list[GenerationResult]:
        import ray

        if not requests:
            return []
        requests = list(requests)
        size = -(-len(requests) // len(self.actors))  # contiguous slices keep each actor's batch large
        slices = [(start, requests[start : start + size]) for start in range(0, len(requests), size)]
        refs = {a.generate.remote(part): start for a, (start, part) in zip(self.actors, slices)}
        baseline = ray.get([a.finished.remote() for a in self.actors]) if progress else []
        reported, results, pending = 0, {}, list(refs)
        while pending:
            done, pending = ray.wait(pending, num_returns=len(pending), timeout=self.poll_s)
            for ref in done:
                results[refs[ref]] = ray.get(ref)
            if progress:
                # vLLM's bar ticks per sampled sequence (n > 1 ticks n times): clamp to requests
                now = min(len(requests), sum(ray.get([a.finished.remote() for a in self.actors])) - sum(baseline))
                if now > reported:
                    progress(now - reported)
                    reported = now
        if progress and reported < len(requests):
            progress(len(requests) - reported)
        return [result for start in sorted(results) for result in results[start]]

    def shutdown(self) -> None:
        import ray

        for actor in self.actors:
            ray.kill(actor)
        self.actors = []

