"""Curation: rule filters, exact / MinHash / semantic dedup, benchmark decontamination.

The flow calls `curate(shards, CurationConfig(...), write_kept=..., write_rejects=...)`.
Every stage answers keep or a reason; rejects carry `reject_reason`,
`reject_stage` and meta.curation = {stage, detail}.
"""

from filters.decontaminate import DecontaminationConfig, EvalSet
from filters.exact import ExactConfig
from filters.minhash import MinHashConfig
from filters.pipeline import CurationConfig, CurationReport, StageFunnel, curate
from filters.rules import RulesConfig
from filters.semantic import SemanticConfig

__all__ = [
    "CurationConfig", "CurationReport", "DecontaminationConfig", "EvalSet", "ExactConfig", "MinHashConfig",
    "RulesConfig", "SemanticConfig", "StageFunnel", "curate",
]
