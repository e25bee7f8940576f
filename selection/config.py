"""Pydantic configs for selection and mixing; validated before any work starts."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from selection.quality import QualityConfig

Method = Literal[
    "none", "facility_location", "graph_cut", "logdet", "disparity_sum", "disparity_min", "smart", "zipfit"
]
ExportFormat = Literal["messages", "prompt_completion", "alpaca", "sharegpt"]
TEMPLATE_TYPES = ("zs_opt", "zs_noopt", "fs_opt", "fs_noopt")


class KernelConfig(BaseModel):
    """How similarities are held: dense n x n for small n, kNN inverse lists for large n."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["auto", "dense", "knn"] = "auto"
    mode: Literal["clip", "raw"] = "clip"  # clip = max(0, cos), needed by FL/GC guarantees; raw = SMART parity
    k: int = Field(64, ge=1, description="neighbours per item for the kNN kernel (self included)")
    knn_method: Literal["auto", "exact", "ivf"] = "auto"
    dense_max: int = Field(20_000, ge=1, description="largest n (per group) that gets a dense kernel under kind=auto")
    nprobe: int = Field(48, ge=1, description="IVF cells each cell searches (more = better recall, slower)")


class MixtureConfig(BaseModel):
    """How the budget is split over tasks before instances are chosen inside each task."""

    model_config = ConfigDict(extra="forbid")
    strategy: Literal["none", "proportional", "temperature", "weights", "smart"] = "none"
    cap: int | None = Field(None, ge=1, description="examples-proportional cap for every task (FLAN: 3k-200k)")
    caps: dict[str, int] = Field(default_factory=dict, description="per-task caps, overriding `cap`")
    temperature: float = Field(1.0, gt=0, description="temperature mixing: rate ∝ min(cap, n)^(1/T)")
    weights: dict[str, float] = Field(default_factory=dict, description="explicit task weights (strategy=weights)")
    allow_upsample: bool = False
    inversion_rate: float = Field(0.3, ge=0, description="rate of '<task>/inverted' tasks relative to originals")

    @field_validator("weights")
    @classmethod
    def _non_negative(cls, value: dict[str, float]) -> dict[str, float]:
        bad = {k: v for k, v in value.items() if v < 0}
        if bad:
            raise ValueError(f"mixture.weights must be >= 0, got {bad}")
        return value

    @model_validator(mode="after")
    def _weights_given(self) -> "MixtureConfig":
        if self.strategy == "weights" and not self.weights:
            raise ValueError("weights: required when strategy='weights' (task name → weight)")
        return self


class SmartConfig(BaseModel):
    """SMART (spec §4). `parity` reproduces the reference; `improved` normalizes gains and uses a temperature."""

    model_config = ConfigDict(extra="forbid")
    mode: Literal["parity", "improved"] = "parity"
    num_tasks: int | None = Field(None, ge=1, description="M′: tasks kept by stage 1 (default: all)")
    f1: Literal["gc", "fl", "logdet", "random"] = "gc"
    f2: Literal["fl", "gc", "logdet"] = "fl"
    gc_lambda: float = 0.4
    logdet_lambda: float = 1.0
    temperature: float | None = Field(None, gt=0, description="default 1 (parity) / 0.5 (improved)")
    shuffle_seed: int = 23

    def resolved_temperature(self) -> float:
        if self.temperature is not None:
            return self.temperature
        return 1.0 if self.mode == "parity" else 0.5


class ZipFitConfig(BaseModel):
    """ZIP-FIT alignment to a target set (spec §5)."""

    model_config = ConfigDict(extra="forbid")
    targets: list[str] = Field(default_factory=list, description="target-domain example texts")
    level: int = Field(1, le=9)
    compressor: Literal["gzip", "zstd", "lzma"] = "gzip"
    long_text: Literal["lzma", "zstd", "truncate", "warn"] = "lzma"
    workers: int = Field(1, ge=1, description="processes scoring sources in parallel")

    @field_validator("level")
    @classmethod
    def _refuse_stored(cls, value: int) -> int:
        if value < 1:
            raise ValueError(
                f"zipfit.level={value}: level 0 stores data uncompressed, so NCD depends only on lengths; use 1..9"
            )
        return value


class TemplateMixConfig(BaseModel):
    """FLAN-style template mixing: a fraction of chosen records is rendered few-shot."""

    model_config = ConfigDict(extra="forbid")
    fewshot_fraction: float = Field(0.0, ge=0.0, le=1.0, description="0 = zero-shot only, 1 = few-shot only")
    shots: int = Field(2, ge=1, le=16)
    max_exemplar_chars: int = Field(1920, ge=1, description="exemplars longer than this are skipped")


class SelectionConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    method: Method = "none"
    budget: int | float | None = Field(None, description="count (int) or fraction of the input (float in (0, 1])")
    optimizer: Literal["naive", "lazy", "stochastic"] = "lazy"
    epsilon: float = Field(0.1, gt=0, lt=1, description="stochastic greedy ε (R = ⌈(n/k)·ln(1/ε)⌉)")
    gc_lambda: float = 0.4
    logdet_lambda: float = 1.0
    stop_if_zero_gain: bool = False
    stop_if_negative_gain: bool = False
    kernel: KernelConfig = Field(default_factory=KernelConfig)
    mixture: MixtureConfig = Field(default_factory=MixtureConfig)
    smart: SmartConfig = Field(default_factory=SmartConfig)
    zipfit: ZipFitConfig = Field(default_factory=ZipFitConfig)
    templates: TemplateMixConfig = Field(default_factory=TemplateMixConfig)
    quality: QualityConfig = Field(default_factory=QualityConfig)  # quality × diversity (selection/quality.py)
    format: ExportFormat = "messages"
    seed: int = 0

    @field_validator("budget")
    @classmethod
    def _budget_range(cls, value: int | float | None) -> int | float | None:
        if isinstance(value, bool):
            raise ValueError("budget must be an int count or a float fraction, not a bool")
        if isinstance(value, int) and value < 0:
            raise ValueError(f"budget count must be >= 0, got {value}")
        if isinstance(value, float) and not 0 < value <= 1:
            raise ValueError(f"budget fraction must be in (0, 1], got {value}")
        return value

    @model_validator(mode="after")
    def _method_needs(self) -> "SelectionConfig":
        if self.quality.weight > 0 and self.method in ("none", "zipfit", "disparity_min"):
            raise ValueError(
                f"quality.weight needs a greedy set-function method (facility_location, graph_cut, logdet, "
                f"disparity_sum, smart), not method={self.method!r}"
            )
        if self.method == "zipfit" and not self.zipfit.targets:
            raise ValueError("zipfit.targets: must list target texts (examples of the domain to align to) when method='zipfit'")
        if self.method == "disparity_sum" and self.optimizer == "lazy":
            # disparity-sum is supermodular: stale lazy bounds are not upper bounds
            if "optimizer" in self.model_fields_set:
                raise ValueError("optimizer: 'lazy' is invalid for method='disparity_sum' (not submodular): use naive or stochastic")
            self.optimizer = "naive"
        return self


def resolve_budget(budget: int | float | None, n: int) -> int:
    """None → all n; a float is a fraction (rounded half up); an int is a count, capped at n."""
    if budget is None:
        return n
    if isinstance(budget, float):
        return min(n, int(budget * n + 0.5))
    return min(n, budget)
