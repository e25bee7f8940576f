"""Engine settings from the run config (shared by every backend)."""

from __future__ import annotations

from typing import Literal

import os

from pydantic import BaseModel, ConfigDict, Field, model_validator


class EngineSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    backend: Literal["vllm", "openai"] = "vllm"
    # packaged:smollm2 (default), an HF model dir, or a hub name already in the local cache.
    name: str = "packaged:smollm2"
    # vLLM offline engine (backend=vllm)
    dtype: str = "auto"  # "auto": float32 on CPU (AVX2-only CPUs lack fast bf16), model dtype on GPU
    max_model_len: int = 2048
    gpu_memory_utilization: float | None = None  # None: 0.2 on CPU (share of RAM), 0.9 on GPU
    enforce_eager: bool = True
    max_num_seqs: int = 64
    seed: int = 0
    # Placement and parallelism (see README "Engines on a Ray cluster of GPUs"):
    num_engines: int = Field(1, ge=1)  # Ray actors, each holding one model copy (data parallelism)
    actor_num_cpus: float = Field(1.0, gt=0)  # keep below the machine's CPUs so Ray tasks still run
    actor_num_gpus: float = Field(0.0, ge=0)  # GPUs per actor; set to tensor_parallel_size on GPU nodes
    tensor_parallel_size: int = Field(1, ge=1)  # GPUs one model copy is sharded over (inside its actor)
    # Ray custom resources each actor asks for, e.g. {"engine_node": 1} to keep engines on nodes started
    # with `ray start --resources '{"engine_node": 4}'`. Where, not what: left out of the config hash.
    actor_resources: dict[str, float] = Field(default_factory=dict)
    # A dead engine actor (its worker or node killed) is restarted by Ray up to this many times, and each
    # request it had in flight is sent again up to this many times; then the run fails naming the engine.
    max_actor_restarts: int = Field(3, ge=0)
    # Requests in flight per engine (the streaming generate stage keeps this many submitted
    # across shards and generators). None: 2 x max_num_seqs, so vLLM's waiting queue refills
    # its running batch without a round trip to the driver.
    max_in_flight: int | None = Field(None, ge=1)
    # OpenAI-compatible server (backend=openai)
    base_url: str | None = None
    api_key: str = "EMPTY"  # prefer api_key_env: a key written here is masked in every output, but sits in the YAML
    api_key_env: str | None = None  # name of the environment variable holding the key (read at config load)
    served_model_name: str | None = None  # the server's model id; default: `name`
    max_concurrency: int = Field(16, ge=1)
    request_timeout_s: float = Field(300.0, gt=0)
    max_retries: int = Field(4, ge=0)

    def in_flight_per_engine(self) -> int:
        """Requests each engine gets at once: `max_in_flight`, else sized from the backend's own bound."""
        if self.max_in_flight is not None:
            return self.max_in_flight
        return self.max_concurrency if self.backend == "openai" else 2 * self.max_num_seqs

    @model_validator(mode="after")
    def _key_from_env(self) -> "EngineSettings":
        if self.api_key_env:
            if self.api_key_env not in os.environ:
                raise ValueError(f"api_key_env: environment variable {self.api_key_env} is not set")
            self.api_key = os.environ[self.api_key_env]
        return self
