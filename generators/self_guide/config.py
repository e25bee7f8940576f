"""Self-Guide configuration: per-stage sampling (spec §2 parameter table) and run options."""

from __future__ import annotations

from collections import Counter
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from generators.base import GeneratorConfig
from generators.self_guide.prompts import NOISE_PHRASES
from generators.task_specs import TaskFile, TaskFileError, TaskSpec, load_task_file


class InputStage(BaseModel):
    """Stage-1 sampling. `stop` is ours: text after a new `[input]`/`[output]` tag would be noise anyway."""

    model_config = ConfigDict(extra="forbid")
    temperature: float | None = Field(default=None, ge=0)  # None: 0.7 classification, 0.9 generation
    top_k: int = Field(default=40, ge=1)
    top_p: float = Field(default=1.0, gt=0, le=1)
    n: int = Field(default=1, ge=1)
    max_tokens: int = Field(default=500, ge=1)
    stop: list[str] | None = ["[input]", "[output]"]
    length_filter: bool | None = None  # None: on for classification, off for generation


class AnnotationStage(BaseModel):
    """Stage-2 sampling. Without engine best_of, sample `best_of` and keep the top `n_annot` by logprob."""

    model_config = ConfigDict(extra="forbid")
    temperature: float = Field(default=0.2, ge=0)
    top_k: int = Field(default=10, ge=1)
    top_p: float = Field(default=1.0, gt=0, le=1)
    n_annot: int = Field(default=10, ge=1)
    best_of: int | None = Field(default=20, ge=1)  # None: sample n_annot, no logprob ranking
    max_tokens: int = Field(default=500, ge=1)
    stop: list[str] | None = ["USER:"]  # ours: the transcript's next turn; Vicuna itself ends with EOS
    length_filter: bool = True  # generation only; forced off for classification
    min_frequency: float = Field(default=0.3, ge=0, le=1)

    @model_validator(mode="after")
    def _best_of_covers_n(self) -> "AnnotationStage":
        if self.best_of is not None and self.best_of < self.n_annot:
            raise ValueError(f"annotation.best_of ({self.best_of}) must be >= annotation.n_annot ({self.n_annot})")
        return self


class SelfGuideConfig(GeneratorConfig):
    model_config = ConfigDict(extra="forbid")

    method: Literal["self_guide"] = "self_guide"
    tasks: list[TaskSpec] = []
    task_files: list[TaskFile | str] = []  # YAML/JSON task files or Super-NaturalInstructions task JSON
    rounds: int = Field(default=40, ge=1)
    prompts_per_round: int = Field(default=10, ge=1)
    max_pool_examples: int = Field(default=10, ge=1)  # k ~ U{1..min(|pool|, this)}
    # Prompt budget in tokens, counted with the engine's tokenizer when it has one, else as
    # len(text) / chars_per_token; capped to leave max_tokens room in the engine's context.
    context_cutoff: int = Field(default=3000, ge=1)
    chars_per_token: float = Field(default=4.0, gt=0)
    inputs: InputStage = InputStage()
    annotation: AnnotationStage = AnnotationStage()
    noise_phrases: list[str] = list(NOISE_PHRASES)
    unquote: bool = True  # ours: drop one pair of quotes around a generated input, as seeds are shown quoted
    dedup_against_seeds: bool = True  # ours (the reference dedups against the pool only): a copied seed example teaches nothing new
    max_training_tokens: int | None = Field(default=2000, ge=1)  # prompt + answer tokens; None: no limit
    balance_classes: bool = True

    @model_validator(mode="after")
    def _has_tasks(self) -> "SelfGuideConfig":
        if not self.tasks and not self.task_files:
            raise ValueError("self_guide: give `tasks` (inline task specs) or `task_files`")
        return self

    def load_tasks(self) -> list[TaskSpec]:
        """Inline tasks and every task file's; raises `TaskFileError` listing the problems of all files."""
        loaded = list(self.tasks)
        problems: list[str] = []
        for task_file in self.task_files:
            try:
                loaded.extend(load_task_file(task_file))
            except TaskFileError as exc:  # keep reading: one `validate` lists every bad file and entry
                problems += exc.problems
        if problems:
            raise TaskFileError(problems)
        names = Counter(t.name for t in loaded)
        repeated = sorted(n for n, c in names.items() if c > 1)
        if repeated:
            raise ValueError(f"self_guide: task names must be unique, repeated: {repeated}")
        return loaded
