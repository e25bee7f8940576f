"""Config of the SQL-execution generator (spec §4 defaults)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from generators.base import GeneratorConfig
from generators.sql.grammar import DEFAULT_SHAPE_WEIGHTS, SHAPES
from generators.sql.tokens import PACKAGED, check_tokenizer_name
from taskmill.suggest import hint

ColumnType = Literal["number", "text", "date"]
_KIND_BY_SUFFIX = {
    ".csv": "csv", ".tsv": "csv", ".parquet": "parquet", ".pq": "parquet",
    ".sqlite": "sqlite", ".sqlite3": "sqlite", ".db": "sqlite", ".duckdb": "duckdb",
}  # fmt: skip

# Reject codes: the spec's five, plus three of ours. `timeout` is a query that
# ran past `query_timeout_s`; `ambiguous_answer` is an `order by ... limit k`
# whose k-th and (k+1)-th keys tie, so the answer depends on row order;
# `table_too_wide` is a table whose first column and rows alone exceed `table_budget`;
# `unreadable_table` is a table source that fails to read (the message names file and line).
REJECT_CODES = (
    "no_compatible_mapping", "sql_error", "empty_result", "too_many_answers",
    "retries_exhausted", "timeout", "ambiguous_answer", "table_too_wide", "unreadable_table",
)  # fmt: skip


class TableSource(BaseModel):
    """One file of tables. CSV and Parquet hold one table; SQLite and DuckDB many."""

    model_config = ConfigDict(extra="forbid")
    path: str
    kind: Literal["csv", "parquet", "sqlite", "duckdb"] | None = None  # default: from the file suffix
    tables: list[str] | None = None  # SQLite/DuckDB: which tables (default all)
    name: str | None = None  # CSV/Parquet: table name (default: the file stem)
    delimiter: str = ","  # CSV only; `.tsv` files default to a tab
    column_types: dict[str, ColumnType] = Field(default_factory=dict)  # header → type, overrides inference
    on_error: Literal["skip", "raise"] = "skip"  # CSV rows with a wrong field count: skip and count, or stop

    @model_validator(mode="after")
    def _resolve_kind(self) -> "TableSource":
        suffix = Path(self.path).suffix.lower()
        if self.kind is None:
            if suffix not in _KIND_BY_SUFFIX:
                raise ValueError(
                    f"kind: cannot tell the kind of {self.path!r} from its suffix; "
                    "set kind to one of csv, parquet, sqlite, duckdb"
                )
            self.kind = _KIND_BY_SUFFIX[suffix]  # type: ignore[assignment]
            if suffix == ".tsv" and self.delimiter == ",":
                self.delimiter = "\t"
        if self.tables is not None and self.kind in ("csv", "parquet"):
            raise ValueError(f"tables: only for sqlite/duckdb sources; use name for a {self.kind} file")
        if self.name is not None and self.kind in ("sqlite", "duckdb"):
            raise ValueError("name: only for csv/parquet sources; use tables for sqlite/duckdb")
        return self


class SqlExecConfig(GeneratorConfig):
    method: Literal["sql_exec"] = "sql_exec"
    sources: list[TableSource] = Field(default_factory=list)
    bundled: bool | None = None  # real tables shipped in installed packages; default: on when no sources
    exclude_tables: list[str] = Field(default_factory=list)  # table ids kept out, e.g. evaluation tables
    tasks_per_table: int = Field(500, ge=1)  # spec `instances_per_template`
    tasks: int | None = Field(None, ge=1)  # total wanted; overrides tasks_per_table, split evenly
    shard_size: int = Field(500, ge=1)  # task slots per shard (shards never span tables)
    renderer: Literal["instruction", "tapex", "indexed", "mixed"] = "instruction"
    # SmolLM2 tokens of table text. The spec's 984 (1024 BART tokens − 40) left whole SQL records over TRL's
    # default max_length of 1024 once the question, answer and chat template were added; 896 leaves room.
    table_budget: int = Field(896, ge=1)  # bounds the table text of every renderer
    budget_unit: Literal["tokens", "chars"] = "tokens"
    tokenizer: str = PACKAGED  # whose tokens `table_budget` counts: packaged:smollm2 or an HF model dir
    max_answers: int = Field(10, ge=1)
    max_retries: int = Field(10, ge=1)  # tries per task slot
    query_timeout_s: float = Field(0.25, gt=0)
    queries_per_view: int = Field(16, ge=1)  # task slots sharing one row sample and database
    max_conditions: int = Field(3, ge=1, le=3)
    cell_literal_probability: float = Field(0.8, ge=0, le=1)  # else a value from the column's range
    shape_weights: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_SHAPE_WEIGHTS))
    max_columns: int = Field(12, ge=1)
    max_rows: int = Field(5000, ge=1)  # rows read per source table
    max_cell_chars: int = Field(80, ge=8)
    drop_columns: list[str] = Field(default_factory=lambda: ["id", "agg"])

    @field_validator("shape_weights")
    @classmethod
    def _known_shapes(cls, weights: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(weights) - set(SHAPES))
        if unknown:
            named = ", ".join(f"{u!r}{hint(u, SHAPES)}" for u in unknown)
            raise ValueError(f"shape_weights: unknown shapes {named}; allowed: {', '.join(SHAPES)}")
        if not any(w > 0 for w in weights.values()) or any(w < 0 for w in weights.values()):
            raise ValueError("shape_weights: weights must be >= 0 with at least one > 0")
        return weights

    @field_validator("tokenizer")
    @classmethod
    def _known_tokenizer(cls, name: str) -> str:
        return check_tokenizer_name(name)

    @model_validator(mode="after")
    def _need_tables(self) -> "SqlExecConfig":
        if self.bundled is None:
            self.bundled = not self.sources
        if not self.sources and not self.bundled:
            raise ValueError("sources: give at least one table source or set bundled: true")
        return self
