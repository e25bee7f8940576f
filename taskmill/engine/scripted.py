"""A scripted engine: a test double for exact parsing, ordering and fault-injection tests.

It records every request it receives (so tests can assert the exact sampling
kwargs) and answers from a script: a function of the request and the index of
the completion, or a list of texts consumed in order. `submit` streams: each
request finishes after `delay(request)` seconds (default 0) on a timer thread,
so tests can make results arrive out of order. It is never a substitute for
the integration tests that run the real vLLM engine.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from concurrent.futures import Future
from typing import Callable, Iterable, Sequence

from taskmill.engine.base import Completion, GenerationRequest, GenerationResult, ProgressFn
from taskmill.engine.busy import BusyMeter

Script = Callable[[GenerationRequest, int], str]


class ScriptedEngine:
    def __init__(
        self,
        script: Script | Iterable[str],
        model_name: str = "scripted",
        delay: Callable[[GenerationRequest], float] | None = None,
        record: bool = True,
    ):
        self.model_name = model_name
        self.requests: list[GenerationRequest] = []
        self.record = record  # False: keep no request (benchmarks over 100k documents)
        self.delay = delay
        self.meter = BusyMeter()
        if callable(script):
            self._script = script
        else:
            queue = list(script)

            def from_queue(_request: GenerationRequest, _i: int) -> str:
                if not queue:
                    raise AssertionError("ScriptedEngine: script ran out of answers")
                return queue.pop(0)

            self._script = from_queue
        self._timers: list[tuple[float, int, Future, GenerationResult]] = []
        self._order = itertools.count()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def answer(self, request: GenerationRequest) -> GenerationResult:
        if self.record:
            self.requests.append(request)
        completions = []
        for i in range(request.n):
            text = self._script(request, i)
            completions.append(Completion(text=text, finish_reason="stop", completion_tokens=len(text.split())))
        return GenerationResult(completions=completions, prompt_tokens=len(request.prompt_key().split()))

    def generate(self, requests: Sequence[GenerationRequest], progress: ProgressFn | None = None) -> list[GenerationResult]:
        results = []
        for request in requests:
            results.append(self.answer(request))
            if progress:
                progress(1)
        return results

    # --- streaming ---------------------------------------------------------------------------
    def submit(self, request: GenerationRequest) -> "Future[GenerationResult]":
        """Answer now, deliver after `delay(request)` seconds on the timer thread (never inline)."""
        future: Future = Future()
        try:
            result = self.answer(request)
        except BaseException as exc:  # noqa: BLE001 - the caller sees it on the future
            future.set_exception(exc)
            return future
        due = time.monotonic() + (self.delay(request) if self.delay else 0.0)
        self.meter.begin()
        with self._wake:
            heapq.heappush(self._timers, (due, next(self._order), future, result))
            if self._thread is None:
                self._thread = threading.Thread(target=self._deliver, name="scripted-engine", daemon=True)
                self._thread.start()
            self._wake.notify()
        return future

    def _deliver(self) -> None:
        while True:
            with self._wake:
                while not self._timers or self._timers[0][0] > time.monotonic():
                    timeout = self._timers[0][0] - time.monotonic() if self._timers else None
                    self._wake.wait(timeout)
                _, _, future, result = heapq.heappop(self._timers)
            self.meter.end()
            future.set_result(result)
