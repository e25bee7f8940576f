"""The full taskmill flow: sources → generate → curate → select → export."""

from __future__ import annotations

import json
import os
from collections import Counter
from typing import Any, Iterable

import yaml
from prefect import flow, get_run_logger

from flows.artifacts import publish_run_artifacts
from flows.generate import generate_stage, generated_stage
from flows.judge import judge_stage
from flows.progress import artifact_key, close_board, open_board, stage_counts
from flows.roundtrip import ROUNDTRIP, ROUNDTRIP_REJECTS, roundtrip_enabled, roundtrip_stage
from flows.stages import curate_stage, export_stage, select_stage, sources_stage
from flows.summary import build_summary, render_text
from generators.chains.upstream import run_order, upstream_records
from taskmill.config import RunConfig, load_config, parse_config
from taskmill.preflight import count_shortfalls
from taskmill.logs import TERMINAL, RunOutput, is_verbose
from taskmill.ray_runtime import ensure_ray
from taskmill.records import from_table
from taskmill.schedule import for_this_run
from taskmill.store import RunStore, run_lock


_artifact_key = artifact_key  # the name other modules knew


def _engine_window(reports: list[dict[str, Any]]) -> float:
    """Seconds from the first request of any generator to the last result of any."""
    spans = [(r["engine_started_at"], r["engine_finished_at"]) for r in reports if r.get("engine_started_at") and r.get("engine_finished_at")]
    return max(end for _, end in spans) - min(start for start, _ in spans) if spans else 0.0


def _generate_all(cfg: RunConfig, store: RunStore, documents: Iterable[dict]) -> list[dict[str, Any]]:
    """Run every generator; returns their reports in config order.

    Generators run side by side in waves (LLM ones share the engines' dispatcher, symbolic ones use
    Ray tasks); one with `from_generators` waits for the stages it draws on and gets their kept
    records as its inputs.
    """
    reports: dict[str, dict[str, Any]] = {}
    pending = run_order(cfg.generators)
    while pending:
        ready = [g for g in pending if all(name in reports for name in getattr(g, "from_generators", None) or [])]

        def inputs(gen) -> Iterable[dict]:
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


def _crash_stale_flow_runs() -> int:
    """Mark Crashed the earlier flow runs of this run directory that the Prefect API still shows Running.

    Called under the run directory's lock, so no other live process works on this run: a Running flow
    run of the same name is one whose process was killed, or stopped by Ctrl-C when the embedded Prefect
    server died with it before the run's state could be sent (taskmill/interrupt.py). Best effort."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName, FlowRunFilterState, FlowRunFilterStateType
    from prefect.client.schemas.objects import StateType
    from prefect.runtime import flow_run
    from prefect.states import Crashed

    if not flow_run.id or not flow_run.name:
        return 0
    running = FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.RUNNING, StateType.PENDING]))
    with get_client(sync_client=True) as client:
        stale = [
            run for run in client.read_flow_runs(flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[flow_run.name]), state=running))
            if str(run.id) != str(flow_run.id)
        ]  # fmt: skip
        for run in stale:
            message = f"its process is gone (killed or interrupted); flow run {flow_run.id} resumes this run"
            client.set_flow_run_state(run.id, Crashed(message=message), force=True)
    return len(stale)


@flow(name="taskmill-pipeline", log_prints=True, flow_run_name=_flow_run_name)
def pipeline(config_path: str = "", config: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run a taskmill config end to end; returns the run summary.

    Give a YAML path (what `taskmill run` and deployments do) or a config dict.
    One process at a time per run directory: a second one waits `lock_wait_s`
    seconds, then fails with RunLockedError naming the holder.
    Output (taskmill/logs.py): one terminal line per stage; vLLM and Ray worker output
    goes to `<run_dir>/logs/engine.log` (also to the terminal with TASKMILL_VERBOSE=1).
    """
    cfg: RunConfig = _load(config_path, config)
    _tag_flow_run(cfg)
    with run_lock(cfg.run_dir, cfg.lock_wait_s), RunOutput(cfg.run_dir) as output:
        stale = 0
        try:
            stale = _crash_stale_flow_runs()
        except Exception as exc:  # noqa: BLE001 - bookkeeping in the UI must not stop the run
            get_run_logger().warning("could not check for stale flow runs: %s", exc)
        if stale:
            get_run_logger().info("marked %d earlier flow run(s) of this run Crashed (their process is gone)", stale)
        open_board(cfg.run_dir, cfg.resolved_run_id)
        try:
            return _run(cfg, output)
        except BaseException as exc:
            TERMINAL.end_live()
            output.write(f"run {cfg.resolved_run_id} failed: {type(exc).__name__}: {exc}")
            raise
        finally:
            close_board(cfg.run_dir)


def _run(cfg: RunConfig, output: RunOutput) -> dict[str, Any]:
    logger = get_run_logger()
    store = RunStore(cfg.run_dir)
    removed = store.remove_temp_files()  # left by a killed or failed earlier run
    if removed:
        logger.info("removed %d temp files left by an earlier run", len(removed))
    store.write_text("config.yaml", yaml.safe_dump(cfg.masked(), sort_keys=False))
    logger.info("run %s in %s", cfg.resolved_run_id, store.root)
    TERMINAL.line(f"taskmill run {cfg.resolved_run_id} → {store.root}  (engine and Ray worker logs: {output.path})")
    if os.environ.get("PREFECT_API_URL"):  # a lasting server (the embedded one stops with the run): link the run
        from prefect.runtime import flow_run

        if flow_run.ui_url:
            TERMINAL.line(f"  Prefect UI: {flow_run.ui_url}")
    ensure_ray(cfg.ray.address, cfg.ray.num_cpus)
    output.route_ray_workers()  # Ray registers its printer of worker output in ray.init

    documents, source_reports = sources_stage(cfg)
    shortfalls = count_shortfalls(cfg, len(documents))  # Bonito `count`s above the documents there are
    for shortfall in shortfalls:
        get_run_logger().warning(shortfall)
    reports = _generate_all(cfg, store, documents)
    names = [gen.name for gen in cfg.generators]
    curated = curate_stage(cfg, names)
    checked = _engine_check(cfg, store, roundtrip_stage, "roundtrip", ROUNDTRIP, ROUNDTRIP_REJECTS) if roundtrip_enabled(cfg) else None
    judged = _engine_check(cfg, store, judge_stage, "judge", "judged", "rejects/judge") if cfg.curation.judge.enabled else None
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
    summary["warnings"] += shortfalls
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
        TERMINAL.line(f"  pushed to the Hub: {hub.repo}@{hub.revision} ({', '.join(summary['hub']['configs'])})")
        store.write_text("summary.json", json.dumps(summary, indent=2, default=str))

    publish_run_artifacts(artifact_key(cfg.resolved_run_id), summary, selected.get("mixture", []), paths.get("card"))
    TERMINAL.line(render_text(summary, compact=not is_verbose()))
    return summary


def _engine_check(cfg: RunConfig, store: RunStore, stage_task, row: str, kept_stage: str, rejects_stage: str) -> dict[str, Any]:
    """Run an engine-backed check over the curated records (round-trip, judge) and add its row to the stage table."""
    from flows.progress import board_for

    report = stage_task(cfg)
    counts = stage_counts(store, kept_stage, rejects_stage)
    earlier = report.pop("done_earlier", False)  # like the other stages' rows: no seconds spent this run
    board_for(cfg.run_dir).stage_done(row, report.get("seen"), counts["kept"], 0.0 if earlier else report.get("seconds", 0.0),
                                      rejected=counts["rejected"], note="done earlier" if earlier else str(report.get("model", "")))  # fmt: skip
    return report
