"""The CoI task library: single tasks to compose, from SNI files, YAML and earlier stages.

A `ChainTask` is an instruction, a category, what kind of text it takes and
gives (free text, closed labels, code, tables, structured answers) and
instances (input, output). Three sources:
- Super-NaturalInstructions task JSON (`Definition`, `Categories`,
  `Input_language`, `Instances`, ...): non-English tasks are skipped, as in
  the CoI paper's seed set;
- our YAML/JSON (`tasks: [{id, instruction, category, instances, ...}]`;
  Self-Guide task files load too: `name` → id, `examples` → instances);
- records of other generators in the same run (`from_generators`): records
  of one stage that share an instruction are one task; a record whose
  instruction carries its own input (Bonito: the passage is in the
  instruction) is a task that can only open a chain.
"""

from __future__ import annotations

import json
import os
import random
import re
from collections import Counter
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from generators.task_specs import TaskFileError, parse_seed_blocks, placed_problems
from taskmill.records import sha256_hex

Kind = Literal["text", "label", "code", "table", "structured"]

# SNI category names (lower-cased substrings) whose outputs are closed labels, code, or whose inputs are not prose.
_LABEL_WORDS = (
    "classification", "detection", "verification", "entailment", "sentiment", "categorization",
    "tagging", "stance", "identification", "answerability", "coherence", "commonsense validation",
)  # fmt: skip
_CODE_OUTPUT_WORDS = ("text to code", "code generation", "sql")
_CODE_INPUT_WORDS = ("code to text", "program execution")
_TABLE_INPUT_WORDS = ("data to text", "table")


class Instance(BaseModel):
    model_config = ConfigDict(extra="forbid")
    input: str
    output: str
    id: str | None = None  # where it came from: an SNI instance id or a record id


class ChainTask(BaseModel):
    """One composable task. Reads our YAML and Self-Guide task files alike."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1)
    instruction: str = Field(min_length=1)
    category: str = ""  # default: the task id (each task its own category)
    input_kind: Kind = "text"
    output_kind: Kind | None = None  # default: label when labels are given, else text
    labels: list[str] | None = None
    instances: list[Instance] = Field(min_length=1)
    first_only: bool = False  # the instruction carries its own input: the task can only open a chain
    source: str = "inline"

    @model_validator(mode="before")
    @classmethod
    def _self_guide_fields(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if "name" in data and "id" not in data:
            data["id"] = data.pop("name")
        if "examples" in data and "instances" not in data:
            data["instances"] = data.pop("examples")
        if isinstance(data.get("instances"), str):
            data["instances"] = [{"input": x, "output": y} for x, y in parse_seed_blocks(data["instances"])]
        if data.pop("task_type", None) == "classification" and data.get("output_kind") is None:
            data["output_kind"] = "label"
        data.pop("extra_noise", None)  # a Self-Guide filter setting, not part of a task
        return data

    @model_validator(mode="after")
    def _defaults(self) -> "ChainTask":
        self.category = self.category or self.id
        if self.output_kind is None:
            self.output_kind = "label" if self.labels else "text"
        return self


def _read(path: str) -> Any:
    """A YAML or JSON file; a syntax error names the file and the line."""
    import yaml

    with open(path, encoding="utf-8") as f:
        try:
            return yaml.safe_load(f) if path.endswith((".yaml", ".yml")) else json.load(f)
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}: not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}") from None
        except yaml.YAMLError as error:
            raise ValueError(f"{path}: not valid YAML: {error}") from None


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def looks_like_labels(outputs: list[str], max_labels: int = 10) -> bool:
    """Between 2 and `max_labels` distinct outputs, each seen at least twice: a closed label set.

    One distinct output is not a label set: it is what several samples of one
    prompt look like (the same answer written twice).
    """
    seen = Counter(o.strip().lower() for o in outputs)
    return 2 <= len(seen) <= max_labels and min(seen.values()) >= 2


def kinds_from_category(category: str) -> tuple[Kind, Kind | None]:
    """(input kind, output kind or None when the category does not tell) from an SNI category name."""
    name = category.lower()
    input_kind: Kind = "text"
    if any(w in name for w in _CODE_INPUT_WORDS):
        input_kind = "code"
    elif any(w in name for w in _TABLE_INPUT_WORDS):
        input_kind = "table"
    if any(w in name for w in _CODE_OUTPUT_WORDS):
        return input_kind, "code"
    if any(w in name for w in _LABEL_WORDS):
        return input_kind, "label"
    return input_kind, None


def sni_task(data: dict, path: str, per_task: int, languages: list[str]) -> tuple[ChainTask | None, str | None]:
    """An SNI task file → (task, None), or (None, why it was skipped)."""
    name = os.path.splitext(os.path.basename(path))[0]
    wanted = {lang.lower() for lang in languages}
    for field in ("Input_language", "Output_language"):
        langs = {str(x).lower() for x in data.get(field) or []}
        if langs and not langs & wanted:
            return None, f"{path}: {field} {sorted(langs)} is not in {sorted(wanted)}"
    definition = data.get("Definition")
    if not definition:
        raise ValueError(f"{path}: SNI task has no Definition")
    instruction = " ".join(definition) if isinstance(definition, list) else str(definition)
    category = (data.get("Categories") or [name])[0]
    raw = list(data.get("Instances") or []) + list(data.get("Positive Examples") or [])
    instances = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict) or "input" not in item or "output" not in item:
            raise ValueError(f"{path}: Instances[{i}] needs `input` and `output`")
        output = item["output"]
        if isinstance(output, list):  # SNI lists the acceptable outputs; the first is the reference
            output = output[0] if output else ""
        if str(output).strip() and str(item["input"]).strip():
            instances.append(Instance(input=str(item["input"]), output=str(output), id=item.get("id")))
    if not instances:
        return None, f"{path}: no instance with a non-empty input and output"
    outputs = [i.output for i in instances]
    rng = random.Random(sha256_hex(name))  # "10 random instances per task", the same on every run
    picked = rng.sample(instances, min(per_task, len(instances)))
    input_kind, output_kind = kinds_from_category(category)
    if output_kind is None:
        output_kind = "label" if looks_like_labels(outputs) else "text"
    task = ChainTask(
        id=name, instruction=instruction, category=_slug(category), input_kind=input_kind, output_kind=output_kind,
        instances=picked, source=path,
    )  # fmt: skip
    return task, None


def load_task_file(path: str, per_task: int, languages: list[str]) -> tuple[list[ChainTask], list[str]]:
    """Tasks in one file (SNI JSON, or YAML/JSON: one task, a list, or {tasks: [...]}) and skip notes."""
    if not os.path.isfile(path):
        raise TaskFileError(f"no file at {path!r}")
    data = _read(path)
    if isinstance(data, dict) and ("Definition" in data or {"Instances", "Positive Examples"} & set(data)):
        task, skipped = sni_task(data, path, per_task, languages)
        return ([task] if task else []), ([skipped] if skipped else [])
    entries = data.get("tasks") if isinstance(data, dict) and "tasks" in data else data
    entries = entries if isinstance(entries, list) else [entries]
    tasks = []
    problems: list[tuple[tuple, str]] = []  # every bad entry is reported, each at its line
    root = ("tasks",) if isinstance(data, dict) and "tasks" in data else ()
    for index, entry in enumerate(entries):
        at = (*root, index) if isinstance(data, list) or root else ()
        try:
            task = ChainTask.model_validate({"source": path, **entry} if isinstance(entry, dict) else entry)
        except ValidationError as error:
            for e in error.errors():
                field = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in e["loc"])
                problems.append(((*at, *e["loc"]), f"tasks[{index}]{field}: {e['msg'].removeprefix('Value error, ')}"))
            continue
        tasks.append(task.model_copy(update={"instances": task.instances[:per_task]}))
    if problems:
        raise TaskFileError(placed_problems(path, problems))
    return tasks, []


def tasks_from_records(stage: str, records: list[dict], per_task: int) -> list[ChainTask]:
    """Kept records of an earlier stage → tasks: one per distinct instruction, in id order.

    A lone record with an empty input is instance-bound (its instruction
    holds its own input, e.g. a Bonito passage): it may only open a chain.
    SQL answers are structured (never fed to a prose task).
    """
    groups: dict[str, list[dict]] = {}
    for record in sorted(records, key=lambda r: r["id"]):
        if record.get("instruction") and record.get("output", "").strip():
            groups.setdefault(record["instruction"], []).append(record)
    tasks = []
    for instruction, group in groups.items():
        meta = group[0].get("meta") or {}
        method = group[0].get("method", stage)
        kind = meta.get("task_type") or meta.get("task") or method
        outputs = [r["output"] for r in group]
        output_kind: Kind = "structured" if method == "sql_exec" else "label" if looks_like_labels(outputs) else "text"
        instances = [Instance(input=r.get("input", ""), output=r["output"], id=r["id"]) for r in group[:per_task]]
        tasks.append(
            ChainTask(
                id=f"{stage}:{sha256_hex(instruction)[:12]}", instruction=instruction, category=f"{stage}:{_slug(str(kind))}",
                output_kind=output_kind, instances=instances, source=f"generated/{stage}",
                first_only=len(group) == 1 and not group[0].get("input", "").strip(),
            )  # fmt: skip
        )
    return tasks
