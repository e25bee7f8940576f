"""Build the configured engine, once per process per settings.

Engines are cached: a served deployment that runs the flow every hour, or a
test session that runs several flows, keeps its vLLM actors (and the loaded
model) instead of paying the model load on every run. Each engine has one
streaming dispatcher (`get_streaming_engine`), shared by every generator
stage that runs at the same time, so the in-flight bound is per engine.
"""

from __future__ import annotations

import threading
from typing import Any

from taskmill.engine.base import Engine
from taskmill.engine.settings import EngineSettings
from taskmill.engine.streaming import StreamingEngine

_ENGINES: dict[str, Any] = {}
_STREAMS: dict[str, StreamingEngine] = {}
_LOCK = threading.Lock()


def make_engine(settings: EngineSettings) -> Engine:
    if settings.backend == "openai":
        from taskmill.engine.openai_backend import OpenAIEngine

        return OpenAIEngine(settings)
    from taskmill.engine.ray_backend import RayVLLMEngine

    return RayVLLMEngine(settings)


def _key(settings: EngineSettings) -> str:
    return settings.model_dump_json()


def get_engine(settings: EngineSettings) -> Engine:
    key = _key(settings)
    with _LOCK:
        if key not in _ENGINES:
            _ENGINES[key] = make_engine(settings)
        return _ENGINES[key]


def get_streaming_engine(settings: EngineSettings) -> StreamingEngine:
    """The shared dispatcher for these settings' engines: `num_engines x in_flight_per_engine` in flight."""
    engine = get_engine(settings)
    key = _key(settings)
    with _LOCK:
        if key not in _STREAMS:
            actors = settings.num_engines if settings.backend == "vllm" else 1
            _STREAMS[key] = StreamingEngine(engine, max_in_flight=actors * settings.in_flight_per_engine())
        return _STREAMS[key]


def install_engine(settings: EngineSettings, engine: Any, max_in_flight: int | None = None, record: bool = False) -> StreamingEngine:
    """Use `engine` (e.g. a ScriptedEngine) wherever these settings are asked for: tests, benchmarks.

    `record=True` keeps every request the dispatcher sends (a benchmark replays them).
    """
    actors = len(getattr(engine, "actors", [None]))
    with _LOCK:
        key = _key(settings)
        _ENGINES[key] = engine
        limit = max_in_flight or actors * settings.in_flight_per_engine()
        _STREAMS[key] = StreamingEngine(engine, max_in_flight=limit, record=record)
        return _STREAMS[key]


def uninstall_engine(settings: EngineSettings) -> None:
    with _LOCK:
        _ENGINES.pop(_key(settings), None)
        _STREAMS.pop(_key(settings), None)


def shutdown_engines() -> None:
    with _LOCK:
        for engine in _ENGINES.values():
            stop = getattr(engine, "shutdown", None)
            if stop:
                stop()
        _ENGINES.clear()
        _STREAMS.clear()


def running_engine(settings: EngineSettings) -> Engine | None:
    """The engine already built for these settings in this process, if any (never builds one)."""
    with _LOCK:
        return _ENGINES.get(_key(settings))
