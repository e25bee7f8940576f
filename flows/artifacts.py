"""The Prefect artifacts a finished run publishes (the stage table and progress bars are in flows/progress.py).

Under `<key>` = the run id as an artifact key: `-summary` (markdown report),
`-rejects` (table: stage, reason, records), `-gate` (quality gate per
generator), `-mixture` (task, available, chosen, weight rounded to 4 places),
`-samples` (a few kept and rejected records per generator) and `-card` (the
exported dataset card, README.md, as markdown).
"""

from __future__ import annotations

import os
from typing import Any

from flows.quality import gate_table_rows
from flows.summary import render_markdown

SAMPLE_CHARS = 300  # per text cell of the samples table: enough to judge a record, short enough to scan
WEIGHT_DIGITS = 4


def rounded(rows: list[dict[str, Any]], digits: int = WEIGHT_DIGITS) -> list[dict[str, Any]]:
    """Rows with every float rounded (mixture weights print as 0.1667, not 0.16666666666666666)."""
    return [{k: round(v, digits) if isinstance(v, float) else v for k, v in row.items()} for row in rows]


def _clip(text: str, limit: int = SAMPLE_CHARS) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def sample_rows(quality: dict[str, Any]) -> list[dict[str, Any]]:
    """Kept and rejected sample records per generator (from `quality_by_generator`), one row each."""
    rows = []
    for name, row in quality.items():
        for kind, samples in (("kept", row.get("samples_kept", [])), ("rejected", row.get("samples_rejected", []))):
            rows += [
                {"generator": name, "kept": kind, "reason": s.get("reason", ""), "id": s["id"],
                 "instruction": _clip(s["instruction"]), "output": _clip(s["output"])}
                for s in samples
            ]  # fmt: skip
    return rows or [{"generator": "-", "kept": "-", "reason": "-", "id": "-", "instruction": "-", "output": "-"}]


def publish_run_artifacts(key: str, summary: dict[str, Any], mixture: list[dict], card_path: str | None) -> None:
    from prefect.artifacts import create_markdown_artifact, create_table_artifact

    create_markdown_artifact(markdown=render_markdown(summary), key=f"{key}-summary", description="taskmill run summary")
    reject_rows = [{"stage": s, "reason": r, "records": n} for s, reasons in summary["rejects"].items() for r, n in reasons.items()]
    create_table_artifact(table=reject_rows or [{"stage": "-", "reason": "-", "records": 0}], key=f"{key}-rejects", description="rejects by reason")
    if summary.get("quality"):
        create_table_artifact(table=gate_table_rows(summary["quality"]), key=f"{key}-gate", description="quality gate: rejects per generator, stage and reason")
        create_table_artifact(table=sample_rows(summary["quality"]), key=f"{key}-samples", description="sample records per generator: kept, and rejected with their reason")
    if mixture:
        create_table_artifact(table=rounded(mixture), key=f"{key}-mixture", description="mixture: task, available, chosen, weight")
    if card_path and os.path.exists(card_path):
        with open(card_path, encoding="utf-8") as f:
            create_markdown_artifact(markdown=f.read(), key=f"{key}-card", description="the exported dataset card (export/README.md)")
