"""Build the configured engine, once per process per settings.

Engines are cached: a served deployment that runs the flow every hour, or a
test session that runs several flows, keeps its vLLM actors (and the loaded
model) instead of paying the model load on every run.
"""

from __future__ import annotations

import threading

from taskmill.engine.base import Engine
from taskmill.engine.settings import EngineSettings

_ENGINES: dict[str, Engine] = {}
_LOCK = threading.Lock()


def make_engine(settings: EngineSettings) -> Engine:
    if settings.backend == "openai":
        from taskmill.engine.openai_backend import OpenAIEngine

        return OpenAIEngine(settings)
    from taskmill.engine.ray_backend import RayVLLMEngine

    return RayVLLMEngine(settings)


def get_engine(settings: EngineSettings) -> Engine:
    key = settings.model_dump_json()
    with _LOCK:
        if key not in _ENGINES:
            _ENGINES[key] = make_engine(settings)
        return _ENGINES[key]


def shutdown_engines() -> None:
    with _LOCK:
        for engine in _ENGINES.values():
            stop = getattr(engine, "shutdown", None)
            if stop:
                stop()
        _ENGINES.clear()


def running_engine(settings: EngineSettings) -> Engine | None:
    """The engine already built for these settings in this process, if any (never builds one)."""
    with _LOCK:
        return _ENGINES.get(settings.model_dump_json())
