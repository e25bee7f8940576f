"""The full taskmill flow: sources → generate → curate → select → export."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import yaml
from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from flows.generate import generate_stage, generated_stage
from flows.judge import judge_stage
from flows.roundtrip import roundtrip_stage
from flows.quality import gate_table_rows
from flows.stages import curate_stage, export_stage, select_stage, sources_stage
from flows.summary import build_summary, render_markdown, render_text
from generators.chains.upstream import run_order, upstream_records
from taskmill.config import RunConfig, load_config, parse_config
from taskmill.ray_runtime import ensure_ray
from taskmill.records import from_table
from taskmill.schedule import for_this_run
from taskmill.store import RunStore, run_lock


def _artifact_key(run_id: str) -> str:
    # artifact keys allow lowercase letters, digits and dashes only
    return "".join(c if c.isalnum() else "-" for c in run_id.lower())[:100]


def _engine_window(reports: list[dict[str, Any]]) -> float:
    """Seconds from the first request of any generator to the last result of any."""
    spans = [(r["engine_started_at"], r["engine_finished_at"]) for r in reports if r.get("engine_started_at") and r.get("engine_finished_at")]
    return max(end for _, end in spans) - min(start for start, _ in spans) if spans else 0.0


def _generate_all(cfg: RunConfig, store: RunStore, documents: list[dict]) -> list[dict[str, Any]]:
    """Run every generator; returns their reports in config order.

    Generators run side by side in waves (LLM ones share the engines' dispatcher, symbolic ones use
    Ray tasks); one with `from_generators` waits for the stages it draws on and gets their kept
    records as its inputs.
    """
    reports: dict[str, dict[str, Any]] = {}
    pending = run_order(cfg.generators)
    while pending:
        ready = [g for g in pending if all(name in reports for name in getattr(g, "from_generators", None) or [])]

        def inputs(gen) -> list[dict]:
            if not getattr(gen, "from_generators", None):
                return documents
            return upstream_records(gen, lambda name: from_table(store.read_stage(generated_stage(name))))

        submitted = [(gen, generate_stage.submit(cfg, gen, inputs(gen))) for gen in ready]
        for _, future in submitted:
            future.wait()  # every stage ends (its finished shards saved) before a failure stops the flow
        for gen, future in submitted:
            reports[gen.name] = future.result()
        pending = [g for g in pending if g.name not in reports]
    return [reports[gen.name] for gen in cfg.generators]


def _load(config_path: str, config: dict[str, Any] | None) -> RunConfig:
    return for_this_run(parse_config(config) if config is not None else load_config(config_path))


def _flow_run_name() -> str:
    """`<config name>-<run id>` (the run id already starts with the name unless set explicitly)."""
    from prefect.runtime import flow_run

    try:
        cfg = _load(flow_run.parameters.get("config_path", ""), flow_run.parameters.get("config"))
    except Exception:  # a bad config fails in the flow body with its full message
        return "taskmill-invalid-config"
    run_id = cfg.resolved_run_id
    return run_id if run_id.startswith(f"{cfg.name}-") else f"{cfg.name}-{run_id}"


def _tag_flow_run(cfg: RunConfig) -> None:
    """Tag the flow run with the config name, generator methods and model (filterable in the UI)."""
    from prefect.client.orchestration import get_client
    from prefect.runtime import flow_run

    tags = sorted({"taskmill", f"config:{cfg.name}", f"model:{cfg.engine.name}", *(f"method:{g.method}" for g in cfg.generators)})
    if flow_run.id:
        with get_client(sync_client=True) as client:
            client.update_flow_run(flow_run.id, tags=sorted(set(flow_run.tags) | set(tags)))


@flow(name="taskmill-pipeline", log_prints=True, flow_run_name=_flow_run_name)
def pipeline(config_path: str = "", config: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run a taskmill config end to end; returns the run summary.

    Give a YAML path (what `taskmill run` and deployments do) or a config dict.
    One process at a time per run directory: a second one waits `lock_wait_s`
    seconds, then fails with RunLockedError naming the holder.
    """
    cfg: RunConfig = _load(config_path, config)
    _tag_flow_run(cfg)
    with run_lock(cfg.run_dir, cfg.lock_wait_s):
        return _run(cfg)


def _run(cfg: RunConfig) -> dict[str, Any]:
    logger = get_run_logger()
    store = RunStore(cfg.run_dir)
    removed = store.remove_temp_files()  # left by a killed or failed earlier run
    if removed:
        logger.info("removed %d temp files left by an earlier run", len(removed))
    store.write_text("config.yaml", yaml.safe_dump(cfg.masked(), sort_keys=False))
    logger.info("run %s in %s", cfg.resolved_run_id, store.root)
    ensure_ray(cfg.ray.address, cfg.ray.num_cpus)

    documents, source_reports = sources_stage(cfg)
    reports = _generate_all(cfg, store, documents)
    names = [gen.name for gen in cfg.generators]
    curated = curate_stage(cfg, names)
    checked = roundtrip_stage(cfg) if cfg.curation.roundtrip.enabled else None
    judged = judge_stage(cfg) if cfg.curation.judge.enabled else None
    selected = select_stage(cfg)

    summary = build_summary(
        store, cfg.resolved_run_id, names, reports, judged=judged is not None, roundtrip=checked is not None
    )
    engine_window = _engine_window(reports)
    if engine_window:  # stages overlap: tokens/s over the shared engine time, not the sum of stage times
        summary["tokens_per_s"] = round(sum(r.get("completion_tokens", 0) for r in reports) / engine_window, 1)
    summary["curation"] = curated
    summary["sources"] = source_reports
    skipped: Counter[str] = Counter()
    for report in source_reports:
        skipped.update(report["skipped"])
    summary["rejects"] = {"sources": dict(sorted(skipped.items())), **summary["rejects"]}
    summary["warnings"] = [f"source {r['source']} gave no rows" for r in source_reports if r.get("documents", r.get("rows")) == 0]
    if checked is not None:
        summary["roundtrip"] = checked
    if judged is not None:
        summary["judge"] = judged
    summary["diversity"] = selected.get("diversity", [])
    paths = export_stage(cfg, selected.get("mixture", []), summary)
    summary["export"] = paths
    store.write_text("summary.json", json.dumps(summary, indent=2, default=str))
    if cfg.export.push_to_hub:
        from taskmill.hub import push_run

        hub = cfg.export.push_to_hub
        summary["hub"] = push_run(store.root, hub.repo, private=hub.private, config_name=hub.config_name, revision=hub.revision)
        logger.info("pushed to the Hub: %s@%s (%s)", hub.repo, hub.revision, ", ".join(summary["hub"]["configs"]))
        store.write_text("summary.json", json.dumps(summary, indent=2, default=str))

    key = _artifact_key(cfg.resolved_run_id)
    create_markdown_artifact(markdown=render_markdown(summary), key=f"{key}-summary", description="taskmill run summary")
    reject_rows = [{"stage": s, "reason": r, "records": n} for s, reasons in summary["rejects"].items() for r, n in reasons.items()]
    create_table_artifact(table=reject_rows or [{"stage": "-", "reason": "-", "records": 0}], key=f"{key}-rejects", description="rejects by reason")
    if summary.get("quality"):
        create_table_artifact(table=gate_table_rows(summary["quality"]), key=f"{key}-gate", description="quality gate: rejects per generator, stage and reason")
    if selected.get("mixture"):
        create_table_artifact(table=selected["mixture"], key=f"{key}-mixture", description="mixture: task, available, chosen, weight")
    print(render_text(summary))
    return summary
