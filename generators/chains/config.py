"""Configs of the two chain generators: `coi` (LLM-composed) and `sifo_chain` (verifiable, no LLM)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from generators.base import GeneratorConfig
from generators.chains.library import ChainTask, load_task_file
from generators.chains.textops import OP_NAMES
from taskmill.suggest import hint

# Spec §3 codes, then ours: `truncated` (the step hit max_tokens), `engine_error` (the request failed),
# `unchanged` (the step returned its input: nothing to learn), `copied_example` (the step pasted a
# demonstration output from its prompt instead of working on its input).
COI_REJECT_CODES = (
    "heuristic_blocked", "not_composable", "empty_generation", "tuple_cap", "truncated", "engine_error",
    "unchanged", "copied_example",
)  # fmt: skip
SIFO_REJECT_CODES = ("no_sentence", "ops_exhausted")


class StepSampling(BaseModel):
    """Engine settings of one kind of CoI call; temperature 0 as in the paper."""

    model_config = ConfigDict(extra="forbid")
    temperature: float = Field(0.0, ge=0)
    top_p: float = Field(1.0, gt=0, le=1)
    max_tokens: int = Field(256, ge=1)


def _lengths(values: list[int]) -> list[int]:
    if any(not 2 <= k <= 8 for k in values):
        raise ValueError(f"chain lengths must be between 2 and 8, got {values}")
    return sorted(set(values))


class CoiConfig(GeneratorConfig):
    """LLM-composed Chain-of-Instructions (spec §3).

    Shards are first-task categories (`shard_size` is not used): every chain
    whose first task has category c is built in c's shard, so the per-tuple cap
    is exact and a shard's result does not depend on the others.
    """

    method: Literal["coi"] = "coi"
    tasks: list[ChainTask] = []  # inline tasks
    task_files: list[str] = []  # SNI task JSON, or YAML/JSON task files (Self-Guide files load too)
    from_generators: list[str] = []  # stage names whose kept records join the library; they run first
    languages: list[str] = ["English"]  # SNI tasks whose input/output language is not one of these are skipped
    instances_per_task: int = Field(10, ge=1)  # CoI₁: random instances per task
    train_lengths: list[int] = [2, 3]
    test_lengths: list[int] = [4, 5]  # held out: written to intermediate/<name>/ with meta.split = "test"
    max_per_category_tuple: int = Field(3, ge=1)
    tries_per_tuple: int | None = Field(None, ge=1)  # candidates sent to the LLM per category tuple; default 2 × cap
    shorten: bool = False  # ask the LLM for a one-sentence instruction (the original stays in meta)
    validity: Literal["check", "sentinel"] = "check"  # check: a yes/no call before each step; sentinel: the step's NOT_COMPOSABLE only
    examples_in_prompt: int = Field(2, ge=0)  # demonstrations of the next task shown in each step prompt
    max_input_chars: int = Field(2000, ge=1)  # longer step inputs are not sent (the step is not tried)
    step: StepSampling = StepSampling()
    shorten_sampling: StepSampling = StepSampling(max_tokens=48)

    @field_validator("train_lengths")
    @classmethod
    def _train(cls, values: list[int]) -> list[int]:
        return _lengths(values)

    @field_validator("test_lengths")
    @classmethod
    def _test(cls, values: list[int]) -> list[int]:
        return _lengths(values)

    @model_validator(mode="after")
    def _check(self) -> "CoiConfig":
        if not self.tasks and not self.task_files and not self.from_generators:
            raise ValueError("coi: give `tasks`, `task_files` or `from_generators` (the task library)")
        if not self.train_lengths and not self.test_lengths:
            raise ValueError("train_lengths / test_lengths: at least one chain length is needed")
        overlap = sorted(set(self.train_lengths) & set(self.test_lengths))
        if overlap:
            raise ValueError(f"train_lengths and test_lengths share {overlap}; a length is train or test")
        if self.tries_per_tuple is not None and self.tries_per_tuple < self.max_per_category_tuple:
            raise ValueError("tries_per_tuple must be >= max_per_category_tuple")
        self.load_files()  # a missing or malformed task file fails validation, before any work starts
        return self

    @property
    def tries(self) -> int:
        return self.tries_per_tuple or 2 * self.max_per_category_tuple

    @property
    def max_length(self) -> int:
        return max(self.train_lengths + self.test_lengths)

    def load_files(self) -> tuple[list[ChainTask], list[str]]:
        """Inline tasks plus every task file, and notes on SNI tasks skipped (language, no instances)."""
        tasks = [t.model_copy(update={"instances": t.instances[: self.instances_per_task]}) for t in self.tasks]
        notes: list[str] = []
        problems: list[str] = []
        for path in self.task_files:
            try:
                loaded, skipped = load_task_file(path, self.instances_per_task, self.languages)
            except ValueError as exc:  # keep reading: every bad file and entry in one report
                problems += [f"task_files: {line}" for line in getattr(exc, "problems", [str(exc)])]
                continue
            tasks += loaded
            notes += skipped
        if problems:
            raise ValueError("\n".join(problems))
        return tasks, notes


class SifoChainConfig(GeneratorConfig):
    """Verifiable text-operation chains over the run's source documents (spec §3b); no LLM."""

    method: Literal["sifo_chain"] = "sifo_chain"
    chains_per_document: int = Field(4, ge=1)
    lengths: list[int] = [2, 3, 4, 5]  # steps per chain, drawn uniformly
    ops: list[str] = list(OP_NAMES)
    min_tokens: int = Field(6, ge=3)  # sentence length bounds, in tokens
    max_tokens: int = Field(40, ge=3)
    draws_per_step: int = Field(30, ge=1)  # operation draws before a chain gives up (ops_exhausted)
    shard_size: int = Field(64, ge=1)  # documents per shard

    @field_validator("lengths")
    @classmethod
    def _check_lengths(cls, values: list[int]) -> list[int]:
        if not values:
            raise ValueError("give at least one chain length")
        return _lengths(values)

    @field_validator("ops")
    @classmethod
    def _ops(cls, values: list[str]) -> list[str]:
        unknown = [v for v in dict.fromkeys(values) if v not in OP_NAMES]
        if unknown:
            named = ", ".join(f"{v!r}{hint(v, OP_NAMES)}" for v in unknown)
            raise ValueError(f"unknown operations {named}; allowed: {', '.join(OP_NAMES)}")
        if not set(values) - {"count"}:
            raise ValueError("count can only end a chain; add at least one text operation")
        return values

    @model_validator(mode="after")
    def _bounds(self) -> "SifoChainConfig":
        if self.min_tokens > self.max_tokens:
            raise ValueError(f"min_tokens ({self.min_tokens}) must be <= max_tokens ({self.max_tokens})")
        return self
