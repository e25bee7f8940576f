"""Task specs for Self-Guide: an instruction, a few seed examples, and labels for classification.

Specs come inline from the run config, from our YAML/JSON files, or from task
files in the Super-NaturalInstructions JSON format (Definition, Positive
Examples, Instances). Every loader returns validated `TaskSpec`s.
"""

from __future__ import annotations

import os
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

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
        if self.task_type == "classification" and self.labels:
            # the generator maps an output to the first label it contains (filters.map_label); a seed
            # example whose output holds no label would be shown to the model as a wrong demonstration
            unmapped = [e.output for e in self.examples if not any(label in e.output for label in self.labels)]
            if unmapped:
                raise ValueError(f"task {self.name!r}: example outputs {unmapped} contain none of the labels {self.labels}")
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


class TaskFileError(ValueError):
    """A task file that cannot be used; one line per problem, each naming the file (and line), task and field."""

    def __init__(self, message: str | list[str]):
        self.problems = [message] if isinstance(message, str) else list(message)
        super().__init__("\n".join(self.problems))


def _read(path: str, lines: dict | None = None) -> Any:
    from taskmill.yaml_io import InputFileError, load_structured, load_yaml

    if not os.path.isfile(path):
        raise TaskFileError(f"task file not found: {path}")
    try:
        if lines is not None and path.lower().endswith((".yaml", ".yml")):
            return load_yaml(path, lines=lines)
        return load_structured(path)
    except InputFileError as exc:
        raise TaskFileError(str(exc)) from None


def _field_errors(exc: ValidationError, where: str) -> TaskFileError:
    parts = []
    for e in exc.errors():
        field = ".".join(str(p) for p in e["loc"]) or "(task)"
        parts.append(f"{where}: {field}: {e['msg'].removeprefix('Value error, ')}")
    return TaskFileError(parts)


def _place(path: str, lines: dict, keys: tuple) -> str:
    """`path:line` of the deepest of `keys` the file has a line for (just `path` when it has none)."""
    line = _line(lines, keys)
    return f"{path}:{line}" if line else path


def load_task_file(spec: TaskFile | str) -> list[TaskSpec]:
    """All tasks in one YAML/JSON file (a task, a list of tasks, or {"tasks": [...]}) or SNI file.

    Raises `TaskFileError` naming the file (with line and column for syntax errors). Content
    errors are all collected: one line per bad field of every task, as
    `file:line: tasks[i] (name).field: problem` (YAML files have lines; JSON ones do not).
    """
    spec = TaskFile(path=spec) if isinstance(spec, str) else spec
    lines: dict[tuple, int] = {}
    data = _read(spec.path, lines)
    if spec.format == "sni" or (spec.format == "auto" and isinstance(data, dict) and "Definition" in data):
        if not isinstance(data, dict):
            raise TaskFileError(f"{spec.path}: an SNI task file is one JSON object, got {type(data).__name__}")
        return [sni_task(data, spec)]
    root: tuple = ()
    if isinstance(data, dict) and "tasks" in data:
        data, root = data["tasks"], ("tasks",)
    entries = data if isinstance(data, list) else [data]
    listed = isinstance(data, list)
    if not entries or data is None:
        raise TaskFileError(f"{spec.path}: no tasks in the file")
    tasks: list[TaskSpec] = []
    problems: list[tuple[tuple, str]] = []  # (key path in the file, problem)
    first_at: dict[str, int] = {}
    for index, entry in enumerate(entries):
        at = (*root, index) if listed else root
        name = entry.get("name") if isinstance(entry, dict) else None
        label = f"tasks[{index}]" + (f" ({name})" if isinstance(name, str) and name else "")
        if not isinstance(entry, dict):
            problems.append((at, f"{label}: a task is a mapping with name, instruction, examples; got {type(entry).__name__}"))
            continue
        if spec.labels is not None:
            entry = {**entry, "labels": spec.labels}
        if spec.task_type != "auto":
            entry = {**entry, "task_type": spec.task_type}
        try:
            task = TaskSpec.model_validate(entry)
        except ValidationError as exc:
            for e in exc.errors():
                loc = tuple(e["loc"])
                field = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc)
                message = e["msg"].removeprefix("Value error, ").removeprefix(f"task {name!r}: ")  # the label names it
                problems.append(((*at, *loc), f"{label}{field}: {message}"))
            continue
        if task.name in first_at:  # the second and later uses of a name, each pointing at the first
            problems.append(((*at, "name"), f"{label}.name: task names must be unique; {task.name!r} is also tasks[{first_at[task.name]}]"))
            continue
        first_at[task.name] = index
        tasks.append(task)
    if problems:
        raise TaskFileError(placed_problems(spec.path, problems, lines))
    return tasks


def placed_problems(path: str, problems: list[tuple[tuple, str]], lines: dict | None = None) -> list[str]:
    """`path:line: problem` for each (key path in the file, problem), in the order of the file.

    `lines` (key path → line) is read from the file when not given: JSON is YAML, so a JSON
    file's lines come from the YAML parser too, read only once there are problems to place.
    """
    lines = dict(lines or {})
    if not lines:
        _file_lines(path, lines)
    placed = [(_line(lines, keys), i, f"{_place(path, lines, keys)}: {text}") for i, (keys, text) in enumerate(problems)]
    return [text for *_, text in sorted(placed)]


def _line(lines: dict, keys: tuple) -> int:
    while keys and keys not in lines:
        keys = keys[:-1]
    return lines.get(keys, 0)


def _file_lines(path: str, lines: dict) -> None:
    from taskmill.yaml_io import load_yaml

    try:
        load_yaml(path, lines=lines)
    except Exception:  # noqa: BLE001 - JSON that YAML reads differently: the problems go without lines
        lines.clear()


def _first_output(value: Any) -> str:
    return str(value[0]) if isinstance(value, list) and value else str(value)


def _sni_examples(data: dict, key: str, path: str) -> list[dict]:
    items = data.get(key) or []
    if not isinstance(items, list):
        raise TaskFileError(f"{path}: {key!r} must be a list, got {type(items).__name__}")
    for index, item in enumerate(items):
        if not isinstance(item, dict) or "input" not in item or "output" not in item:
            raise TaskFileError(f"{path}: {key}[{index}]: needs 'input' and 'output'")
        if isinstance(item["output"], list) and not item["output"]:
            raise TaskFileError(f"{path}: {key}[{index}].output: empty list")
    return items


def sni_task(data: dict, spec: TaskFile) -> TaskSpec:
    """A Super-NaturalInstructions task file as a TaskSpec.

    SNI has no label field, so classification is detected (when task_type is
    auto) as: at most `max_labels` distinct outputs over positive examples and
    instances, and each seen at least twice. Labels keep first-seen order,
    which matters because label mapping takes the first label that matches.
    """
    name = os.path.splitext(os.path.basename(spec.path))[0]
    definition = data.get("Definition")
    if not definition or not isinstance(definition, (str, list)):
        raise TaskFileError(f"{spec.path}: 'Definition' must be a non-empty string or list of strings")
    instruction = "\n".join(map(str, definition)) if isinstance(definition, list) else definition
    positives = _sni_examples(data, "Positive Examples", spec.path)
    instances = _sni_examples(data, "Instances", spec.path)
    examples = [{"input": str(e["input"]), "output": _first_output(e["output"])} for e in positives]
    if not examples:
        raise TaskFileError(f"{spec.path}: SNI task has no Positive Examples to use as seeds")
    examples = examples[: spec.max_seeds]
    labels = spec.labels
    task_type = None if spec.task_type == "auto" else spec.task_type
    if labels is None and task_type != "generation":
        outputs = [e["output"] for e in examples] + [_first_output(i["output"]) for i in instances]
        seen: dict[str, int] = {}
        for out in outputs:
            seen[out.strip()] = seen.get(out.strip(), 0) + 1
        looks_like_labels = len(seen) <= spec.max_labels and min(seen.values()) >= 2 and len(outputs) > len(seen)
        if looks_like_labels or task_type == "classification":
            labels = list(seen)
    try:
        return TaskSpec(name=name, instruction=instruction, examples=examples, labels=labels, task_type=task_type)
    except ValidationError as exc:
        raise _field_errors(exc, spec.path) from None
