"""Task specs for Self-Guide: an instruction, a few seed examples, and labels for classification.

Specs come inline from the run config, from our YAML/JSON files, or from task
files in the Super-NaturalInstructions JSON format (Definition, Positive
Examples, Instances). Every loader returns validated `TaskSpec`s.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# `[input]="..."` then `[output]="..."`; non-greedy so that multi-line seeds parse one by one.
_SEED_BLOCK = re.compile(r'\[input\]\s*=\s*"(.*?)"\s*\[output\]\s*=\s*"(.*?)"', re.DOTALL)


def parse_seed_blocks(text: str) -> list[tuple[str, str]]:
    """Seed examples written as `[input]="x"` / `[output]="y"` blocks, in order."""
    return [(x, y) for x, y in _SEED_BLOCK.findall(text)]


class Example(BaseModel):
    model_config = ConfigDict(extra="forbid")
    input: str
    output: str


class TaskSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    instruction: str = Field(min_length=1)
    # A list of {input, output}, or one string of `[input]="…"` / `[output]="…"` blocks.
    examples: list[Example] = Field(min_length=1)
    labels: list[str] | None = None  # set for classification
    task_type: Literal["classification", "generation"] | None = None  # default: classification iff labels
    extra_noise: list[str] | None = None  # task-specific noise phrases; None = the spec's defaults

    @field_validator("examples", mode="before")
    @classmethod
    def _examples_from_blocks(cls, value: Any) -> Any:
        if isinstance(value, str):
            pairs = parse_seed_blocks(value)
            if not pairs:
                raise ValueError('examples: no [input]="…" [output]="…" blocks found in the string')
            return [{"input": x, "output": y} for x, y in pairs]
        return value

    @model_validator(mode="after")
    def _type_and_labels(self) -> "TaskSpec":
        if self.task_type is None:
            self.task_type = "classification" if self.labels else "generation"
        if self.task_type == "classification" and not self.labels:
            raise ValueError(f"task {self.name!r}: task_type 'classification' needs `labels`")
        if self.labels is not None and len(set(self.labels)) != len(self.labels):
            raise ValueError(f"task {self.name!r}: labels must be distinct, got {self.labels}")
        return self

    @property
    def is_classification(self) -> bool:
        return self.task_type == "classification"


class TaskFile(BaseModel):
    """A task file to load; overrides apply to every task in it (useful for SNI files)."""

    model_config = ConfigDict(extra="forbid")

    path: str
    format: Literal["auto", "taskmill", "sni"] = "auto"  # auto: SNI iff the JSON has "Definition"
    task_type: Literal["auto", "classification", "generation"] = "auto"
    labels: list[str] | None = None
    max_seeds: int = Field(default=9, ge=1)  # the paper uses 2–9 seed examples
    max_labels: int = Field(default=10, ge=2)  # SNI auto-detection: at most this many distinct outputs


def _read(path: str) -> Any:
    with open(path, encoding="utf-8") as f:
        if path.endswith((".yaml", ".yml")):
            import yaml

            return yaml.safe_load(f)
        return json.load(f)


def load_task_file(spec: TaskFile | str) -> list[TaskSpec]:
    """All tasks in one YAML/JSON file (a task, a list of tasks, or {"tasks": [...]}) or SNI file."""
    spec = TaskFile(path=spec) if isinstance(spec, str) else spec
    data = _read(spec.path)
    if spec.format == "sni" or (spec.format == "auto" and isinstance(data, dict) and "Definition" in data):
        return [sni_task(data, spec)]
    if isinstance(data, dict) and "tasks" in data:
        data = data["tasks"]
    entries = data if isinstance(data, list) else [data]
    tasks = []
    for entry in entries:
        if spec.labels is not None:
            entry = {**entry, "labels": spec.labels}
        if spec.task_type != "auto":
            entry = {**entry, "task_type": spec.task_type}
        tasks.append(TaskSpec.model_validate(entry))
    return tasks


def _first_output(value: Any) -> str:
    return str(value[0]) if isinstance(value, list) and value else str(value)


def sni_task(data: dict, spec: TaskFile) -> TaskSpec:
    """A Super-NaturalInstructions task file as a TaskSpec.

    SNI has no label field, so classification is detected (when task_type is
    auto) as: at most `max_labels` distinct outputs over positive examples and
    instances, and each seen at least twice. Labels keep first-seen order,
    which matters because label mapping takes the first label that matches.
    """
    name = os.path.splitext(os.path.basename(spec.path))[0]
    definition = data["Definition"]
    instruction = "\n".join(definition) if isinstance(definition, list) else str(definition)
    positives = data.get("Positive Examples") or []
    examples = [{"input": str(e["input"]), "output": _first_output(e["output"])} for e in positives]
    if not examples:
        raise ValueError(f"{spec.path}: SNI task has no Positive Examples to use as seeds")
    examples = examples[: spec.max_seeds]
    labels = spec.labels
    task_type = None if spec.task_type == "auto" else spec.task_type
    if labels is None and task_type != "generation":
        outputs = [e["output"] for e in examples] + [_first_output(i["output"]) for i in data.get("Instances") or []]
        seen: dict[str, int] = {}
        for out in outputs:
            seen[out.strip()] = seen.get(out.strip(), 0) + 1
        looks_like_labels = len(seen) <= spec.max_labels and min(seen.values()) >= 2 and len(outputs) > len(seen)
        if looks_like_labels or task_type == "classification":
            labels = list(seen)
    return TaskSpec(name=name, instruction=instruction, examples=examples, labels=labels, task_type=task_type)
