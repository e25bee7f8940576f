"""The run config: one YAML file, validated before any work starts.

Stage sections belong to their packages (generators, filters, selection);
this module assembles them. Errors name the field path and allowed values,
e.g. `generators.0.task_types.1: unknown task type 'qq' (allowed: ...)`.
"""

from __future__ import annotations

import hashlib
import os
import re
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from taskmill.engine.settings import EngineSettings
from taskmill.records import canonical_json
from taskmill.sources import SourceConfig


class RayConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    address: str | None = None  # None: local Ray; "auto" or "ray://host:10001" joins a cluster
    num_cpus: int | None = None  # local Ray only
    task_cpus: float = Field(0.5, gt=0)  # CPUs each CPU-stage Ray task asks for


class ExportConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    formats: list[Literal["messages", "prompt_completion", "alpaca", "sharegpt"]] = ["messages", "alpaca"]
    hf_dataset: bool = True  # also write a `datasets` directory (save_to_disk)
    dataset_name: str = "taskmill-dataset"


NESTED_MARK = "nested: "  # errors from _validate_nested already carry their full paths


def _validate_nested(model: type[BaseModel], data: Any, prefix: str = "") -> BaseModel:
    """Validate a section whose model is chosen at run time, keeping full field paths in errors.

    Pydantic drops list indices of errors raised inside a field validator, so the
    path is spelled out here (e.g. `generators.0.tasks.1.type`).
    """
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        parts = []
        for e in exc.errors():
            path = ".".join(str(p) for p in (prefix, *e["loc"]) if str(p) != "")
            parts.append(f"{path}: {e['msg'].removeprefix('Value error, ')}")
        raise ValueError(NESTED_MARK + "\n".join(parts)) from None


class RunConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = "taskmill"
    run_id: str | None = None  # default: name + hash of the config, so a rerun resumes
    run_root: str = "runs"  # local path or any pyarrow filesystem URI
    seed: int = 42
    ray: RayConfig = RayConfig()
    engine: EngineSettings = EngineSettings()
    sources: list[SourceConfig] = []
    generators: list[Any] = Field(min_length=1)
    curation: Any = Field(default_factory=dict)
    selection: Any = Field(default_factory=dict)
    export: ExportConfig = ExportConfig()

    @field_validator("generators", mode="before")
    @classmethod
    def _generators(cls, value: Any) -> list[Any]:
        from generators.base import load_generator_class

        if not isinstance(value, list):
            raise ValueError("generators must be a list of generator configs, each with a `method`")
        out = []
        for index, item in enumerate(value):
            if isinstance(item, BaseModel):
                out.append(item)
                continue
            if not isinstance(item, dict) or "method" not in item:
                raise ValueError("each generator needs a `method` (e.g. bonito, self_guide, sql_exec)")
            out.append(_validate_nested(load_generator_class(item["method"]).Config, item, f"generators.{index}"))
        from generators.chains.upstream import run_order

        run_order(assign_stage_names(out))  # raises when `from_generators` names no stage or forms a cycle
        return out

    @field_validator("curation", mode="before")
    @classmethod
    def _curation(cls, value: Any) -> Any:
        from filters import CurationConfig

        return value if isinstance(value, CurationConfig) else _validate_nested(CurationConfig, value or {}, "curation")

    @field_validator("selection", mode="before")
    @classmethod
    def _selection(cls, value: Any) -> Any:
        from selection import SelectionConfig

        return value if isinstance(value, SelectionConfig) else _validate_nested(SelectionConfig, value or {}, "selection")

    def resolved(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def config_hash(self) -> str:
        data = self.resolved()
        data.pop("run_id", None)
        return hashlib.sha256(canonical_json(data).encode()).hexdigest()[:10]

    @property
    def resolved_run_id(self) -> str:
        return self.run_id or f"{re.sub(r'[^A-Za-z0-9_.-]', '-', self.name)}-{self.config_hash()}"

    @property
    def run_dir(self) -> str:
        return f"{self.run_root.rstrip('/')}/{self.resolved_run_id}"


def assign_stage_names(generators: list[Any]) -> list[Any]:
    """Give every generator a unique stage name; explicit `name`s must not collide.

    Unnamed generators get their method's name, then `<method>-2`, `<method>-3`, ...
    counted per method in config order.
    """
    taken = {g.name for g in generators if g.name}
    explicit = [g.name for g in generators if g.name]
    duplicates = sorted({n for n in explicit if explicit.count(n) > 1})
    if duplicates:
        raise ValueError(f"generator names must be unique; repeated: {duplicates}")
    seen: dict[str, int] = {}
    for gen in generators:
        if gen.name:
            continue
        count = seen.get(gen.method, 0)
        while True:
            count += 1
            candidate = gen.method if count == 1 else f"{gen.method}-{count}"
            if candidate not in taken:
                break
        seen[gen.method] = count
        gen.name = candidate
        taken.add(candidate)
    return generators


class ConfigError(ValueError):
    """A config that cannot run; the message lists every bad field."""


def _format(error: ValidationError) -> str:
    lines = []
    for e in error.errors():
        message = e["msg"].removeprefix("Value error, ")
        if message.startswith(NESTED_MARK):
            lines += [f"  {line}" for line in message.removeprefix(NESTED_MARK).splitlines()]
            continue
        path = ".".join(str(p) for p in e["loc"]) or "(top level)"
        shown = e["type"] != "missing" and not isinstance(e.get("input"), (dict, list))
        lines.append(f"  {path}: {message}" + (f" (got {e['input']!r})" if shown else ""))
    return "invalid taskmill config:\n" + "\n".join(lines)


def parse_config(data: dict[str, Any], base_dir: str | None = None) -> RunConfig:
    """Validate a config dict. Relative paths in it resolve against `base_dir`."""
    if base_dir:
        data = _resolve_paths(data, base_dir)
    try:
        return RunConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format(exc)) from None


def load_config(path: str) -> RunConfig:
    if not os.path.exists(path):
        raise ConfigError(f"config file not found: {path}")
    with open(path, encoding="utf-8") as f:
        data = yaml.safe_load(f) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the config must be a YAML mapping")
    return parse_config(data, base_dir=os.path.dirname(os.path.abspath(path)))


_PATH_KEYS = {"path", "paths", "specs", "task_files", "tables", "eval_sets", "target_path"}


def _resolve_paths(value: Any, base_dir: str, key: str | None = None) -> Any:
    """Make relative file paths in the config relative to the config file, not the cwd."""
    if isinstance(value, dict):
        return {k: _resolve_paths(v, base_dir, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve_paths(v, base_dir, key) for v in value]
    if key in _PATH_KEYS and isinstance(value, str) and value and "://" not in value and not os.path.isabs(value):
        return os.path.normpath(os.path.join(base_dir, value))
    return value
