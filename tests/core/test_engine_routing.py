"""Several engine actors: each request goes to the actor with the fewest requests in flight."""

from __future__ import annotations

import threading
from concurrent.futures import Future

from taskmill.engine.base import GenerationRequest, GenerationResult
from taskmill.engine.ray_backend import RayVLLMEngine


class _Ref:
    def __init__(self, future: Future):
        self._future = future

    def future(self) -> Future:
        return self._future


class _Actor:
    """Stands in for a Ray actor handle: `generate_one.remote(request)` returns a ref whose future we finish."""

    def __init__(self, name: str, log: list):
        self.name, self.log = name, log
        self.generate_one = self

    def remote(self, request: GenerationRequest) -> _Ref:
        future: Future = Future()
        self.log.append((self.name, request.prompt, future))
        return _Ref(future)


def _engine(actors: int) -> tuple[RayVLLMEngine, list]:
    log: list = []
    engine = object.__new__(RayVLLMEngine)  # the routing only; no Ray, no model
    engine.actors = [_Actor(f"a{i}", log) for i in range(actors)]
    engine.in_flight = [0] * actors
    engine._lock = threading.Lock()
    engine.dead, engine._down = set(), set()  # resend state (taskmill.engine.ray_backend: actor restarts)
    return engine, log


def test_least_in_flight_routing():
    engine, log = _engine(3)
    futures = [engine.submit(GenerationRequest(prompt=f"p{i}")) for i in range(6)]
    assert [name for name, _, _ in log] == ["a0", "a1", "a2", "a0", "a1", "a2"]
    # a1 finishes both of its requests: it is now the least loaded and gets the next two.
    for name, _, future in log:
        if name == "a1":
            future.set_result(GenerationResult(completions=[], prompt_tokens=0))
    assert engine.in_flight == [2, 0, 2]
    engine.submit(GenerationRequest(prompt="p6"))
    engine.submit(GenerationRequest(prompt="p7"))
    assert [name for name, _, _ in log[6:]] == ["a1", "a1"]
    assert futures[1].done() and not futures[0].done()
