"""The streaming dispatcher: one bounded queue in front of an engine, shared by every stage.

`StreamingEngine` wraps a backend that can `submit` single requests (Ray/vLLM
actors, the OpenAI client, the scripted engine; any other `Engine` is run
one request per worker thread). It keeps at most `max_in_flight` requests
submitted, in submission order (FIFO), and resolves each caller's future the
moment its request finishes. It is thread-safe: generators running side by
side in different threads share one dispatcher, so the engine sees one
continuous stream of work whichever generator it comes from.

It also counts what a run reports: requests, tokens, the wall time from the
first request to the last result, and how many requests were in flight over
that time (`BusyMeter`), and can keep every request it sent (`record=True`)
so a benchmark can replay them.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable, Sequence

from taskmill.engine.base import Engine, EngineStats, GenerationRequest, GenerationResult, ProgressFn, WrapsEngine, generate_by_submit
from taskmill.engine.busy import BusyMeter


class _ThreadedBackend:
    """Any batch-only `Engine` as a streaming backend: one single-request call per worker thread."""

    def __init__(self, engine: Engine, workers: int):
        self.engine = engine
        self.model_name = engine.model_name
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="taskmill-engine")

    def submit(self, request: GenerationRequest) -> "Future[GenerationResult]":
        return self.pool.submit(lambda: self.engine.generate([request])[0])


class StreamingEngine(WrapsEngine):
    def __init__(self, backend: Any, max_in_flight: int, record: bool = False):
        if max_in_flight < 1:
            raise ValueError(f"max_in_flight must be >= 1, got {max_in_flight}")
        self.backend = backend if hasattr(backend, "submit") else _ThreadedBackend(backend, max_in_flight)
        self.engine = backend
        self.model_name: str = backend.model_name
        self.max_in_flight = max_in_flight
        self.meter = BusyMeter()
        self.stats = EngineStats()
        self.first_submit: float | None = None
        self.last_result: float | None = None
        self.recorded: list[GenerationRequest] | None = [] if record else None
        self.listeners: list[Callable[[GenerationResult], None]] = []
        self._queue: deque[tuple[GenerationRequest, Future]] = deque()
        self._in_flight = 0
        self._lock = threading.RLock()
        self._pumping = False

    # --- what generators read about the model ---------------------------------------------

    # --- streaming ----------------------------------------------------------------------------
    def submit(self, request: GenerationRequest) -> "Future[GenerationResult]":
        """Queue one request; the future resolves with its result (or the backend's exception)."""
        outer: Future = Future()
        with self._lock:
            if self.first_submit is None:
                self.first_submit = time.time()
            if self.recorded is not None:
                self.recorded.append(request)
            self._queue.append((request, outer))
            self._pump()
        return outer

    def backlog(self) -> int:
        """Requests queued here and not yet sent to the engine."""
        with self._lock:
            return len(self._queue)

    def in_flight(self) -> int:
        with self._lock:
            return self._in_flight

    def _pump(self) -> None:
        # Re-entrant: a backend may finish a request inside submit(); the outer loop keeps going.
        if self._pumping:
            return
        self._pumping = True
        try:
            while self._queue and self._in_flight < self.max_in_flight:
                request, outer = self._queue.popleft()
                if not outer.set_running_or_notify_cancel():
                    continue  # its caller gave up (a failed stage cancels its shards): never sent
                self._in_flight += 1
                self.meter.begin()
                try:
                    inner = self.backend.submit(request)
                except BaseException as exc:  # noqa: BLE001 - handed to the caller's future
                    self._finish(outer, None, exc)
                    continue
                inner.add_done_callback(lambda f, outer=outer: self._on_done(f, outer))
        finally:
            self._pumping = False

    def _on_done(self, inner: Future, outer: Future) -> None:
        error = inner.exception()
        self._finish(outer, None if error else inner.result(), error)

    def _finish(self, outer: Future, result: GenerationResult | None, error: BaseException | None) -> None:
        self.meter.end()
        with self._lock:
            self._in_flight -= 1
            self.last_result = time.time()
            if result is not None:
                self.stats.add([result], 0.0)
            self._pump()
        if error is not None:
            outer.set_exception(error)
            return
        for listener in list(self.listeners):
            listener(result)  # type: ignore[arg-type]
        outer.set_result(result)  # running futures cannot be cancelled: the caller always gets it

    # --- the batch Engine interface -------------------------------------------------------------
    def generate(self, requests: Sequence[GenerationRequest], progress: ProgressFn | None = None) -> list[GenerationResult]:
        return generate_by_submit(self.submit, requests, progress)

    # --- reports -------------------------------------------------------------------------------
    @property
    def wall_seconds(self) -> float:
        """From the first request submitted to the last result (model load excluded)."""
        if self.first_submit is None or self.last_result is None:
            return 0.0
        return self.last_result - self.first_submit

    def report(self) -> dict[str, Any]:
        wall = self.wall_seconds
        busy, mean = self.meter.snapshot().over(wall)
        return {
            "requests": self.stats.requests,
            "prompt_tokens": self.stats.prompt_tokens,
            "completion_tokens": self.stats.completion_tokens,
            "wall_seconds": round(wall, 3),
            "tokens_per_s": round(self.stats.completion_tokens / wall, 3) if wall else 0.0,
            "busy_fraction": round(busy, 4),
            "mean_in_flight": round(mean, 2),
            "max_in_flight": self.max_in_flight,
        }
