"""Wrap an engine to time it, count tokens and drive a progress bar."""

from __future__ import annotations

import time
from typing import Sequence

from taskmill.engine.base import Engine, EngineStats, GenerationRequest, GenerationResult, ProgressFn


class MeteredEngine:
    def __init__(self, engine: Engine, on_progress: ProgressFn | None = None):
        self.engine = engine
        self.model_name = engine.model_name
        self.stats = EngineStats()
        self.on_progress = on_progress

    def generate(self, requests: Sequence[GenerationRequest], progress: ProgressFn | None = None) -> list[GenerationResult]:
        def both(n: int) -> None:
            if progress:
                progress(n)
            if self.on_progress:
                self.on_progress(n)

        start = time.perf_counter()
        results = self.engine.generate(requests, progress=both)
        self.stats.add(results, time.perf_counter() - start)
        return results
