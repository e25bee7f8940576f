"""The full taskmill flow: sources → generate → curate → select → export."""

from __future__ import annotations

import json
from typing import Any

import yaml
from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from flows.generate import generate_stage, generated_stage
from flows.stages import curate_stage, export_stage, select_stage, sources_stage
from flows.summary import build_summary, render_markdown, render_text
from generators.chains.upstream import run_order, upstream_records
from taskmill.config import RunConfig, load_config, parse_config
from taskmill.ray_runtime import ensure_ray
from taskmill.records import from_table
from taskmill.store import RunStore


def _artifact_key(run_id: str) -> str:
    # artifact keys allow lowercase letters, digits and dashes only
    return "".join(c if c.isalnum() else "-" for c in run_id.lower())[:100]


@flow(name="taskmill-pipeline", log_prints=True, flow_run_name="{config_path}")
def pipeline(config_path: str = "", config: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run a taskmill config end to end; returns the run summary.

    Give a YAML path (what `taskmill run` and deployments do) or a config dict.
    """
    logger = get_run_logger()
    cfg: RunConfig = parse_config(config) if config is not None else load_config(config_path)
    store = RunStore(cfg.run_dir)
    store.write_text("config.yaml", yaml.safe_dump(cfg.resolved(), sort_keys=False))
    logger.info("run %s in %s", cfg.resolved_run_id, store.root)
    ensure_ray(cfg.ray.address, cfg.ray.num_cpus)

    documents = sources_stage(cfg) if cfg.sources else []
    # Generators with `from_generators` run after the stages they draw on, and get their records as inputs.
    by_name = {}
    for gen in run_order(cfg.generators):
        inputs = documents
        if getattr(gen, "from_generators", None):
            inputs = upstream_records(gen, lambda name: from_table(store.read_stage(generated_stage(name))))
        by_name[gen.name] = generate_stage(cfg, gen, inputs)
    reports = [by_name[gen.name] for gen in cfg.generators]
    names = [gen.name for gen in cfg.generators]
    curated = curate_stage(cfg, names)
    selected = select_stage(cfg)

    summary = build_summary(store, cfg.resolved_run_id, names, reports)
    summary["curation"] = curated
    summary["diversity"] = selected.get("diversity", [])
    paths = export_stage(cfg, selected.get("mixture", []), summary)
    summary["export"] = paths
    store.write_text("summary.json", json.dumps(summary, indent=2, default=str))

    key = _artifact_key(cfg.resolved_run_id)
    create_markdown_artifact(markdown=render_markdown(summary), key=f"{key}-summary", description="taskmill run summary")
    reject_rows = [{"stage": s, "reason": r, "records": n} for s, reasons in summary["rejects"].items() for r, n in reasons.items()]
    create_table_artifact(table=reject_rows or [{"stage": "-", "reason": "-", "records": 0}], key=f"{key}-rejects", description="rejects by reason")
    if selected.get("mixture"):
        create_table_artifact(table=selected["mixture"], key=f"{key}-mixture", description="mixture: task, available, chosen, weight")
    print(render_text(summary))
    return summary
