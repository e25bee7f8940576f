"""The generator contract every method implements.

A generator splits its work into shards (`plan_shards`) and turns one shard
into records (`run_shard`). The flow owns storage and resume: it skips
shards already written, runs the others (symbolic ones as Ray tasks, LLM ones
against the engine actor) and writes kept records and rejects separately.
A generator never drops a candidate silently: every candidate it does not
keep comes back in `rejects` with `reject_reason` set.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from taskmill.engine.base import Engine


class GeneratorConfig(BaseModel):
    """Base for each generator's config; `method` selects the generator."""

    model_config = ConfigDict(extra="forbid")
    method: str
    # The generator's stage name in the run dir (`generated/<name>/`). Default: the method for
    # the first generator of a method, `<method>-2`, `<method>-3`, ... for later ones, so
    # appending a generator never renames the stages of those before it (resume stays valid).
    name: str | None = Field(None, pattern=r"^[A-Za-z0-9_.-]+$", max_length=64)
    shard_size: int = Field(64, ge=1)  # work items per shard: the unit of resume


@dataclass
class ShardOutput:
    kept: list[dict] = field(default_factory=list)
    rejects: list[dict] = field(default_factory=list)
    # Records a kept record was built from but that are not training data themselves
    # (e.g. Self-Guide's accepted Stage-1 inputs); stored so every `parents` id resolves.
    intermediate: list[dict] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)  # e.g. candidates per stage, for yield reports


class Generator:
    method: ClassVar[str]
    Config: ClassVar[type[GeneratorConfig]]
    needs_engine: ClassVar[bool] = True

    def __init__(self, config: GeneratorConfig, run_seed: int):
        self.config = config
        self.run_seed = run_seed

    def plan_shards(self, documents: list[dict]) -> list[Any]:
        """Split the work into JSON-able shard payloads, deterministically.

        `documents` are the run's source documents ({"id", "text", ...}); a
        generator with its own inputs (task specs, tables) may ignore them.
        """
        raise NotImplementedError

    def run_shard(self, shard: Any, engine: Engine | None) -> ShardOutput:
        raise NotImplementedError


def load_generator_class(method: str) -> type[Generator]:
    from generators import REGISTRY

    if method not in REGISTRY:
        raise ValueError(f"unknown generator method {method!r}; allowed: {sorted(REGISTRY)}")
    module_name, _, class_name = REGISTRY[method].partition(":")
    return getattr(importlib.import_module(module_name), class_name)
