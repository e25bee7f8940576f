"""Settings of the closed loop: held-out split, fine-tuning and scoring."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class HeldoutConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # Table ids (as in `source_id` without "table:") that no training record may come from.
    # None: the SQL generator's `exclude_tables` when it has any, else `fraction` of its tables.
    tables: list[str] | None = None
    fraction: float = Field(0.25, gt=0, lt=1)  # share of tables held out when none are named
    tasks: int = Field(200, ge=1)  # held-out SQL tasks, split evenly over the held-out tables
    generator: str | None = None  # which sql_exec stage's settings to reuse (default: the first)
    # No held-out answer may be more than this share of the held-out SQL tasks (at least one task
    # each): a set where "1" is a fifth of the answers rewards guessing "1", not reading tables.
    max_answer_share: float = Field(0.05, gt=0, le=1)
    # Verifiable chains (a `sifo_chain` stage in the run): document ids no training row may come
    # from. None: a seeded `fraction` of the run's documents.
    documents: list[str] | None = None
    chains: int = Field(100, ge=1)  # held-out chains, spread over the held-out documents
    chain_generator: str | None = None  # which sifo_chain stage's settings to reuse (default: the first)


class TrainConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    base_model: str = "packaged:smollm2"
    method: Literal["full", "lora"] = "full"
    epochs: float = Field(2.0, gt=0)
    max_steps: int = Field(-1, ge=-1)  # > 0 overrides epochs
    batch_size: int = Field(8, ge=1)
    learning_rate: float = Field(1e-4, gt=0)
    lr_scheduler: str = "cosine"
    warmup_steps: int = Field(5, ge=0)
    max_length: int = Field(512, ge=16)  # tokens; longer examples are truncated by TRL
    lora_r: int = Field(16, ge=1)
    lora_alpha: int = Field(32, ge=1)
    seed: int = 0
    device: Literal["auto", "cpu", "cuda"] = "auto"  # auto: cuda when torch sees a GPU


class ScoreConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    backend: Literal["auto", "vllm", "transformers"] = "auto"  # auto: vLLM when importable
    # The tuned model's backend when it should differ (e.g. transformers for a handful of
    # prompts, cheaper than loading a second vLLM engine); None: same as `backend`.
    tuned_backend: Literal["vllm", "transformers"] | None = None
    max_tokens: int = Field(64, ge=1)  # SQL answers
    chain_max_tokens: int = Field(384, ge=1)  # chain transcripts: up to 8 steps, each a rewritten sentence
    max_model_len: int = Field(2048, ge=64)
    # vLLM KV-cache share (of GPU memory; of RAM on CPU) for the scoring engine; None: the engine's
    # default (0.2 of RAM on CPU, more than a few hundred short prompts need on a shared machine).
    gpu_memory_utilization: float | None = Field(None, gt=0, le=1)
    batch_size: int = Field(16, ge=1)  # transformers fallback only


class EvaluateConfig(BaseModel):
    """What `taskmill evaluate RUN_DIR` does; every field has a default."""

    model_config = ConfigDict(extra="forbid")
    heldout: HeldoutConfig = HeldoutConfig()
    train: TrainConfig = TrainConfig()
    score: ScoreConfig = ScoreConfig()
    training_file: str | None = None  # default: export/prompt_completion.jsonl, else export/messages.jsonl
    decontaminate: bool = True  # drop training rows that hit a held-out prompt (8-gram rule)
    out_dir: str | None = None  # default: RUN_DIR/eval
    seed: int = 42  # held-out task sampling
