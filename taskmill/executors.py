"""Executors run a stage function over a list of items; stages don't know where.

`LocalExecutor` runs in-process (tests, tiny runs). `RayExecutor` runs each
item as a Ray task with a fractional CPU request: on a 2-core machine, tasks
that each claim a whole CPU starve the engine actor and Ray Data's I/O.
"""

from __future__ import annotations

from typing import Any, Callable, Protocol, Sequence


class Executor(Protocol):
    name: str

    def map(self, fn: Callable[..., Any], items: Sequence[Any], *args: Any) -> list[Any]:
        """[fn(item, *args) for item in items], in order."""
        ...


class LocalExecutor:
    name = "local"

    def map(self, fn: Callable[..., Any], items: Sequence[Any], *args: Any) -> list[Any]:
        return [fn(item, *args) for item in items]


class RayExecutor:
    name = "ray"

    def __init__(self, num_cpus: float = 0.5, max_in_flight: int | None = None):
        import ray

        if not ray.is_initialized():
            raise RuntimeError("RayExecutor needs ray.init() first (taskmill.ray_runtime.ensure_ray)")
        self.num_cpus = num_cpus
        self.max_in_flight = max_in_flight or max(2, int(ray.available_resources().get("CPU", 2) / num_cpus))

    def map(self, fn: Callable[..., Any], items: Sequence[Any], *args: Any) -> list[Any]:
        import ray

        remote_fn = ray.remote(num_cpus=self.num_cpus)(fn)
        shared = [ray.put(a) for a in args]  # put big arguments once, not once per task
        refs: list[Any] = []
        results: dict[int, Any] = {}
        pending: dict[Any, int] = {}
        for index, item in enumerate(items):
            if len(pending) >= self.max_in_flight:
                done, _ = ray.wait(list(pending), num_returns=1)
                for ref in done:
                    results[pending.pop(ref)] = ray.get(ref)
            ref = remote_fn.remote(item, *shared)
            pending[ref] = index
            refs.append(ref)
        for ref, index in pending.items():
            results[index] = ray.get(ref)
        return [results[i] for i in range(len(items))]

