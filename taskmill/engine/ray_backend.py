"""vLLM engines in long-lived Ray actors: one model load per actor, requests streamed.

`RayVLLMEngine` is what the flow uses. It starts `num_engines` async actors,
each holding one `AsyncVLLMEngine` (vLLM's continuous-batching async engine).
Every request is its own actor call: `submit` routes it to the actor with the
fewest requests in flight and returns a future that resolves when that
request finishes, so results come back one by one and new requests join the
running batch at once. `generate` (the batch `Engine` interface) submits a
whole list and returns the results in request order.

Placement: each actor asks Ray for `actor_num_cpus` CPUs, `actor_num_gpus`
GPUs and any `actor_resources` (Ray custom resources); with
`tensor_parallel_size` > 1 give each actor that many GPUs (vLLM then shards
the model over them inside the actor). `num_engines` actors are data
parallelism: on a Ray cluster they land on whichever nodes have the GPUs.

Failures: an actor whose process or node dies is restarted by Ray (up to
`max_actor_restarts` times, on any node that has its resources; the model
loads again on the first request). Requests it had in flight fail with
`RayActorError`; each is sent again, at most `max_actor_restarts` times, and
then its future fails with `EngineActorLost` naming the engine and the count.
Resending is safe: a request carries its own seed, and record ids depend on
the request, not on when or where it ran.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable, Sequence

from taskmill.engine.base import GenerationRequest, GenerationResult, ProgressFn, generate_by_submit
from taskmill.engine.settings import EngineSettings

# Builds the engine inside the actor from its settings: an object with `async generate(request)`
# (AsyncVLLMEngine) or `submit(request) -> concurrent Future` (ScriptedEngine, for tests).
EngineBuilder = Callable[[EngineSettings], Any]
log = logging.getLogger(__name__)
RESTART_WAIT_S = 900.0  # how long a resend waits for a dead actor to come back (Ray restart + model load)


class EngineActorLost(RuntimeError):
    """An engine actor died and a request's resends ran out (`engine.max_actor_restarts`)."""


class _EngineActor:
    """Ray async actor: its methods share one event loop, where vLLM's AsyncLLM lives.

    The engine is built on first use, not in `__init__`: after a restart Ray runs `__init__`
    again, and the first call after it (a resent request) loads the model once for all callers.
    """

    def __init__(self, settings: dict[str, Any], build: EngineBuilder | None = None):
        self.settings = EngineSettings(**settings)
        self.build = build
        self.engine: Any = None
        self._building: asyncio.Future | None = None

    async def _engine(self) -> Any:
        if self.engine is None:
            if self._building is None:
                self._building = asyncio.ensure_future(self._build())
            await self._building
        return self.engine

    async def _build(self) -> None:
        if self.build is not None:
            self.engine = self.build(self.settings)
            return
        from taskmill.engine.vllm_async import AsyncVLLMEngine

        self.engine = AsyncVLLMEngine(self.settings)

    async def ready(self) -> dict[str, Any]:
        """The loaded engine's name and kwargs, and where it runs (Ray node id, worker pid)."""
        import ray

        engine = await self._engine()
        return {
            "model_name": engine.model_name,
            "kwargs": getattr(engine, "kwargs", {}),
            "max_model_len": getattr(engine, "max_model_len", None),
            "node_id": ray.get_runtime_context().get_node_id(),
            "pid": os.getpid(),
        }

    async def generate_one(self, request: GenerationRequest) -> GenerationResult:
        engine = await self._engine()
        if hasattr(engine, "submit"):
            return await asyncio.wrap_future(engine.submit(request))
        return await engine.generate(request)

    async def busy(self) -> dict[str, Any]:
        return vars((await self._engine()).meter.snapshot())

    async def shutdown(self) -> None:
        stop = getattr(self.engine, "shutdown", None)
        if stop:
            stop()


class RayVLLMEngine:
    """`num_engines` engine actors behind one `submit`; see the module docstring for placement and failures.

    `build` replaces the vLLM engine inside each actor (tests run a scripted engine in real actors);
    without it the model is resolved here once and its tokenizer loaded for token budgets.
    Raises `RuntimeError` when Ray is not initialized.
    """

    def __init__(self, settings: EngineSettings, build: EngineBuilder | None = None):
        import ray

        from taskmill.models import display_name, resolve_model

        if not ray.is_initialized():
            raise RuntimeError("RayVLLMEngine needs ray.init() first (taskmill.ray_runtime.ensure_ray)")
        self.settings = settings
        self.max_resends = settings.max_actor_restarts
        self.model_path = resolve_model(settings.name) if build is None else None  # convert the packaged model once, here, not in every actor
        actor_cls = ray.remote(_EngineActor).options(
            num_cpus=settings.actor_num_cpus,
            num_gpus=settings.actor_num_gpus,
            resources=dict(settings.actor_resources) or None,
            max_concurrency=max(1000, 4 * settings.in_flight_per_engine()),
            max_restarts=settings.max_actor_restarts,
            max_task_retries=0,  # resent here instead: counted, and named in the error when they run out
        )
        self.actors = [actor_cls.remote(settings.model_dump(), build) for _ in range(settings.num_engines)]
        infos = ray.get([a.ready.remote() for a in self.actors])
        self.model_name = display_name(settings.name) if build is None else infos[0]["model_name"]
        self.max_model_len = settings.max_model_len if build is None else infos[0]["max_model_len"]
        self.llm_kwargs = infos[0]["kwargs"]
        self._lock = threading.Lock()
        self.in_flight = [0] * len(self.actors)
        self.resent = 0  # requests sent again after their actor died (tests read it; no record depends on it)
        self._down: set[int] = set()  # actors that failed a request and have not answered one since (logged once)
        self.dead: set[int] = set()  # actors Ray will not restart again: no request goes there
        self._resend_pool: ThreadPoolExecutor | None = None
        self.tokenizer: Any = None
        if build is None:
            # The model's tokenizer in this process, for token budgets. Loaded here, once: stages run
            # in threads, and transformers' lazy imports are not safe to race.
            from transformers import AutoTokenizer

            self.tokenizer = AutoTokenizer.from_pretrained(self.model_path)

    def submit(self, request: GenerationRequest) -> "Future[GenerationResult]":
        """Send one request to the least-loaded actor; the future resolves when it finishes.

        If the actor dies meanwhile, the request is sent again once the actor is back (or to another
        live actor) up to `max_actor_restarts` times; then the future fails with `EngineActorLost`.
        """
        outer: Future = Future()
        self._send(request, outer, attempt=0)
        return outer

    def _send(self, request: GenerationRequest, outer: Future, attempt: int) -> None:
        from ray.exceptions import RayActorError

        with self._lock:
            alive = [i for i in range(len(self.actors)) if i not in self.dead]
            if not alive:
                outer.set_exception(EngineActorLost(f"engine {self.model_name!r}: all {len(self.actors)} actors are dead "
                                                    f"(restarted up to engine.max_actor_restarts: {self.max_resends} times)"))
                return
            index = min(alive, key=self.in_flight.__getitem__)
            self.in_flight[index] += 1
        try:
            inner = self.actors[index].generate_one.remote(request).future()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's future
            with self._lock:
                self.in_flight[index] -= 1
            outer.set_exception(exc)
            return

        def done(finished: Future) -> None:
            with self._lock:
                self.in_flight[index] -= 1
            error = finished.exception()
            if error is None:
                self._down.discard(index)
                outer.set_result(finished.result())
            elif isinstance(error, RayActorError):
                if index not in self._down:
                    self._down.add(index)
                    log.warning("engine %r actor %d died (%s); its requests are sent again once Ray restarts it",
                                self.model_name, index, type(error).__name__)
                # Off Ray's callback thread: waiting for the restart blocks.
                self._resender().submit(self._resend, index, request, outer, attempt, error)
            else:
                outer.set_exception(error)

        inner.add_done_callback(done)

    def _resender(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._resend_pool is None:
                self._resend_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="taskmill-engine-resend")
            return self._resend_pool

    def _resend(self, index: int, request: GenerationRequest, outer: Future, attempt: int, error: BaseException) -> None:
        """Send a request again once its actor is back (or to another live actor); bounded by `max_actor_restarts`."""
        if attempt >= self.max_resends:
            outer.set_exception(EngineActorLost(
                f"engine {self.model_name!r} (actor {index} of {len(self.actors)}): its actor died and the request "
                f"was sent {attempt + 1} times (engine.max_actor_restarts: {self.max_resends}); last error: "
                f"{type(error).__name__}: {(str(error).splitlines() or [''])[0]}"
            ))
            return
        if not self._wait_alive(index):
            with self._lock:
                self.dead.add(index)
        with self._lock:
            self.resent += 1
        self._send(request, outer, attempt + 1)

    def _wait_alive(self, index: int) -> bool:
        """Block until actor `index` answers again (Ray restarted it and its engine is loaded); False if it is gone for good."""
        import ray
        from ray.exceptions import ActorDiedError, ActorUnavailableError

        deadline = time.monotonic() + RESTART_WAIT_S
        while time.monotonic() < deadline:
            try:
                ray.get(self.actors[index].ready.remote(), timeout=max(1.0, deadline - time.monotonic()))
                return True
            except ActorUnavailableError:  # still restarting: ask again
                time.sleep(0.1)
            except (ActorDiedError, ray.exceptions.GetTimeoutError):
                return False
        return False

    def generate(self, requests: Sequence[GenerationRequest], progress: ProgressFn | None = None) -> list[GenerationResult]:
        return generate_by_submit(self.submit, requests, progress)

    def placement(self) -> list[dict[str, Any]]:
        """Each actor's node id and worker pid now (waits for a restarting actor to be ready)."""
        import ray

        return [{"node_id": info["node_id"], "pid": info["pid"]} for info in ray.get([a.ready.remote() for a in self.actors])]

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
        if self._resend_pool is not None:
            self._resend_pool.shutdown(wait=False, cancel_futures=True)
