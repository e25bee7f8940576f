"""Selection, mixing and export (spec: shared/specs/selection.md).

Entry points for the flow:
- `select(records, embeddings, config) -> SelectionResult`
- `formats.to_format(records, fmt)`, `formats.split_valid`, `formats.write_trainer_configs`
- `mixture.mix_templates(records, config.templates, seed)` for few-shot template mixing
- `diversity_table(records)` (CR and NGD per task) for the manifest
"""

from selection.api import SelectionResult, build_function, diversity_table, record_text, select
from selection.config import (
    KernelConfig,
    MixtureConfig,
    SelectionConfig,
    SmartConfig,
    TemplateMixConfig,
    ZipFitConfig,
    resolve_budget,
)
from selection.formats import ExportFormatConfig, to_format, validate_messages, write_trainer_configs
from selection.mixture import mix_templates, mixture_table_markdown, task_of

__all__ = [
    "ExportFormatConfig",
    "KernelConfig",
    "MixtureConfig",
    "SelectionConfig",
    "SelectionResult",
    "SmartConfig",
    "TemplateMixConfig",
    "ZipFitConfig",
    "build_function",
    "diversity_table",
    "mix_templates",
    "mixture_table_markdown",
    "record_text",
    "resolve_budget",
    "select",
    "task_of",
    "to_format",
    "validate_messages",
    "write_trainer_configs",
]
