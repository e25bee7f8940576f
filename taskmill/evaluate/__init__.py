"""Closed-loop evaluation: fine-tune a small model on an export and score it on held-out tables.

`taskmill evaluate RUN_DIR` runs `loop.evaluate_flow`; see `heldout` (split by
source + decontamination), `train` (TRL SFT), `score` (denotation match) and
`report` (tables, Prefect artifact, dataset card).
"""

from taskmill.evaluate.config import EvaluateConfig, HeldoutConfig, ScoreConfig, TrainConfig

__all__ = ["EvaluateConfig", "HeldoutConfig", "ScoreConfig", "TrainConfig"]
