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

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from taskmill.engine.settings import EngineSettings
from taskmill.records import canonical_json
from taskmill.sources import SourceConfig
from taskmill.config_errors import NESTED_MARK, add_places, format_lines, new_paths, nonsense_problems, validate_all
from taskmill.suggest import hint
from taskmill.yaml_io import InputFileError, load_yaml


class RayConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    address: str | None = None  # None: local Ray; "auto" or "ray://host:10001" joins a cluster
    num_cpus: int | None = Field(None, ge=1)  # local Ray only
    task_cpus: float = Field(0.5, gt=0)  # CPUs each CPU-stage Ray task asks for


class HubPushConfig(BaseModel):
    """Push the export to the Hugging Face Hub (taskmill/hub.py). The token comes from HF_TOKEN or `hf auth login`."""

    model_config = ConfigDict(extra="forbid")
    repo: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")  # "user/name" or "org/name"
    private: bool = True
    config_name: str | None = None  # None: one config per format (+ `records`); a name: one config of the first format
    revision: str = "main"  # branch; created from main if absent


class ExportConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # at least one (the `datasets` dir and the Hub's default config hold the first); no repeats
    formats: list[Literal["messages", "prompt_completion", "alpaca", "sharegpt"]] = Field(["messages", "alpaca"], min_length=1)
    hf_dataset: bool = True  # also write a `datasets` directory (save_to_disk)
    dataset_name: str = "taskmill-dataset"
    # records whose conversation is longer (chat-template tokens) go to rejects/export as too_long;
    # TRL's SFTTrainer cuts at max_length=1024 by default. None: keep all (lengths are still reported)
    max_tokens: int | None = Field(None, ge=1)
    # counts tokens for max_tokens and the length percentiles; None: the run's model (engine.name),
    # SmolLM2's tokenizer when that model has none locally
    tokenizer: str | None = None
    license: str = "other"  # the dataset card's Hub license id (e.g. apache-2.0, cc-by-4.0)
    language: list[str] = ["en"]  # ISO 639-1 codes for the card
    push_to_hub: HubPushConfig | None = None

    @field_validator("formats")
    @classmethod
    def _distinct_formats(cls, value: list[str]) -> list[str]:
        repeated = sorted({f for f in value if value.count(f) > 1})
        if repeated:
            raise ValueError(f"each format once; repeated: {repeated}")
        return value


def _validate_nested(model: type[BaseModel], data: Any, prefix: str = "") -> BaseModel:
    """Validate a section whose model is chosen at run time, keeping full field paths in errors.

    Pydantic drops list indices of errors raised inside a field validator, so the
    path is spelled out here (e.g. `generators.0.tasks.1.type`). Every error of the
    section is reported, bools given for numbers included (`bool_errors`).
    """
    data = fill_null_sections(model, data)
    result, lines = validate_all(model, data, prefix)
    if lines:
        raise ValueError(NESTED_MARK + "\n".join(lines))
    return result


def fill_null_sections(model: type[BaseModel], data: Any) -> Any:
    """`key:` with nothing under it (YAML null) means "defaults" for a field that is a section (a model)."""
    if not isinstance(data, dict):
        return data
    out = dict(data)
    for key, value in data.items():
        field = model.model_fields.get(key) if isinstance(key, str) else None
        section = field.annotation if field is not None else None
        if not (isinstance(section, type) and issubclass(section, BaseModel)):
            continue  # not a section, or one that may be None on purpose (`X | None`)
        out[key] = {} if value is None else fill_null_sections(section, value)
    return out


class RunConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    _places: tuple[str, dict[tuple, int]] | None = PrivateAttr(None)  # (config file, key path → line) from load_config

    name: str = Field("taskmill", min_length=1)
    run_id: str | None = Field(None, min_length=1)  # default: name + hash of the config, so a rerun resumes
    run_root: str = Field("runs", min_length=1)  # local path or any pyarrow filesystem URI
    seed: int = 42
    # resume: a rerun (or the next scheduled run) resumes the same run dir; new_per_run: every
    # run (every schedule slot) gets its own run id `<name>-<hash>-<slot>` and a seed derived from it.
    run_mode: Literal["resume", "new_per_run"] = "resume"
    lock_wait_s: float = Field(0.0, ge=0)  # wait this long for another process on the same run dir, then exit
    ray: RayConfig = RayConfig()
    engine: EngineSettings = EngineSettings()
    sources: list[SourceConfig] = []
    generators: list[Any] = Field(min_length=1)
    # validate_default: the `mode="before"` validators below must also turn a missing section into its model
    curation: Any = Field(default_factory=dict, validate_default=True)
    selection: Any = Field(default_factory=dict, validate_default=True)
    export: ExportConfig = ExportConfig()

    @field_validator("sources", mode="before")
    @classmethod
    def _no_sources(cls, value: Any) -> Any:
        return [] if value is None else value  # `sources:` with nothing under it: none, like any empty section

    @field_validator("generators", mode="before")
    @classmethod
    def _generators(cls, value: Any) -> list[Any]:
        from generators import REGISTRY
        from generators.base import load_generator_class

        if not isinstance(value, list):
            raise ValueError("generators must be a list of generator configs, each with a `method`")
        out = []
        problems: list[str] = []  # every generator is checked, so one run of `validate` lists them all
        for index, item in enumerate(value):
            if isinstance(item, BaseModel):
                out.append(item)
                continue
            if not isinstance(item, dict) or "method" not in item:
                problems.append(
                    f"generators.{index}: each generator is a mapping with a `method` (one of {', '.join(sorted(REGISTRY))})"
                )
                continue
            method = item["method"]
            if not isinstance(method, str) or method not in REGISTRY:
                problems.append(
                    f"generators.{index}.method: unknown generator method {method!r}; "
                    f"allowed: {sorted(REGISTRY)}{hint(method, REGISTRY)}"
                )
                continue
            try:
                out.append(_validate_nested(load_generator_class(method).Config, item, f"generators.{index}"))
            except ValueError as exc:
                problems.append(str(exc).removeprefix(NESTED_MARK))
        if problems:
            raise ValueError(NESTED_MARK + "\n".join(problems))
        from generators.chains.upstream import run_order

        try:
            run_order(assign_stage_names(out))  # raises when `from_generators` names no stage or forms a cycle
        except ValueError as exc:  # a message naming its own field (`generators.0.from_generators: ...`) keeps its place
            text = str(exc)
            raise ValueError(NESTED_MARK + (text if text.startswith("generators.") else f"generators: {text}")) from None
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

    @model_validator(mode="after")
    def _no_nonsense(self) -> "RunConfig":
        """Values each section accepts alone but that make no run (checked here, across sections)."""
        problems = nonsense_problems(self.model_dump(mode="python", include={"selection", "export", "engine"}))
        if problems:
            raise ValueError(NESTED_MARK + "\n".join(problems))
        return self

    def resolved(self) -> dict[str, Any]:
        """The full config as plain data (secrets included: mask with `masked()` before writing it anywhere)."""
        return self.model_dump(mode="json")

    def masked(self) -> dict[str, Any]:
        """The resolved config with secret fields shown as `***` (taskmill/redact.py)."""
        from taskmill.redact import mask_secrets

        return mask_secrets(self.resolved())

    def config_hash(self) -> str:
        """Hash of what the data depends on: not the run's id, place, mode, lock or Hub settings, and no secrets."""
        from taskmill.redact import drop_secrets

        data = drop_secrets(self.resolved())
        for key in ("run_id", "run_root", "run_mode", "lock_wait_s"):  # where and how, not what
            data.pop(key, None)
        data["export"].pop("push_to_hub", None)
        for key in ("actor_resources", "max_actor_restarts"):  # placement and fault tolerance: same data
            data["engine"].pop(key, None)
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


def parse_config(data: dict[str, Any], base_dir: str | None = None) -> RunConfig:
    """Validate a config dict. Relative paths in it resolve against `base_dir`.

    Raises `ConfigError` listing every problem at once: pydantic's errors of all
    fields, bools given for numbers, and nonsense values (`nonsense_problems`),
    each as `field.path: problem`.
    """
    if base_dir:
        data = _resolve_paths(data, base_dir)
    data = fill_null_sections(RunConfig, data)
    cfg, lines = validate_all(RunConfig, data)
    if cfg is None:  # the after-validator did not run: check the raw values so they come in the same report
        lines += new_paths(lines, nonsense_problems(data if isinstance(data, dict) else {}))
    if lines:
        raise ConfigError(format_lines(lines))
    return cfg


def load_config(path: str) -> RunConfig:
    if not os.path.exists(path):
        raise ConfigError(f"config file not found: {path}")
    if os.path.isdir(path):
        raise ConfigError(f"{path}: is a directory, not a config file")
    lines: dict[tuple, int] = {}
    try:
        data = load_yaml(path, lines=lines)
    except InputFileError as exc:
        raise ConfigError(str(exc)) from None
    if data is None:
        raise ConfigError(f"{path}: the config file is empty; it needs at least `generators:`")
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the config must be a YAML mapping (key: value), not a {type(data).__name__}")
    try:
        cfg = parse_config(data, base_dir=os.path.dirname(os.path.abspath(path)))
    except ConfigError as exc:
        raise ConfigError(add_places(str(exc), path, lines)) from None
    cfg._places = (path, lines)  # pre-flight names file:line too
    return cfg


def with_places(message: str, cfg: "RunConfig") -> str:
    """`message` with `file:line:` before each field line, when `cfg` came from a file (`load_config`)."""
    places = cfg._places
    return add_places(message, *places) if places else message


_PATH_KEYS = {"path", "paths", "specs", "task_files", "eval_sets", "evals", "target_path"}  # not `tables`: SQLite/DuckDB table names


def _resolve_paths(value: Any, base_dir: str, key: str | None = None) -> Any:
    """Make relative file paths in the config relative to the config file, not the cwd."""
    if isinstance(value, dict):
        return {k: _resolve_paths(v, base_dir, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve_paths(v, base_dir, key) for v in value]
    if key in _PATH_KEYS and isinstance(value, str) and value and "://" not in value and not os.path.isabs(value):
        return os.path.normpath(os.path.join(base_dir, value))
    return value
