"""Shared fixtures: hermetic Prefect (test harness), local Ray, one real vLLM engine.

The vLLM engine is session-scoped: the packaged model loads once (~40 s) and
every test that needs a real engine (`vllm` marker) shares it, the flow tests
included (the flow's engine cache hands back the same actor for the same
settings).
"""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "300")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="taskmill-prefect-"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def prefect_harness():
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=300):
        yield


@pytest.fixture(scope="session")
def ray_local():
    import ray

    from taskmill.ray_runtime import ensure_ray

    ensure_ray(num_cpus=2)
    yield
    from taskmill.engine.factory import shutdown_engines

    shutdown_engines()
    ray.shutdown()


@pytest.fixture(scope="session")
def engine_settings():
    from taskmill.engine.settings import EngineSettings

    # Small context: the packaged model is tiny and tests send short prompts.
    return EngineSettings(max_model_len=2048, max_num_seqs=64)


@pytest.fixture(scope="session")
def vllm_engine(ray_local, engine_settings):
    """A real vLLM engine (Ray actor) on the packaged SmolLM2 model."""
    from taskmill.engine.factory import get_engine

    return get_engine(engine_settings)
