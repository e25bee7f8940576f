"""Prefect tasks for the stages after generation: sources, curate, select, export.

Global stages (dedup across all shards, selection over the whole pool) are
resumed as a unit: a stage marked done in the manifest is skipped on rerun;
one that crashed midway is cleared and run again.
"""

from __future__ import annotations

import itertools
import time
from collections import Counter
from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows.generate import generated_stage
from flows.judge import selection_input
from taskmill.config import RunConfig
from taskmill.executors import RayExecutor
from taskmill.records import from_table, to_table
from taskmill.documents import DocumentStream, write_documents
from taskmill.sources import table_reports
from taskmill.store import RunStore

SHARD_ROWS = 5_000  # rows per shard for stages that re-shard their output
# Selection methods that work on embedding kernels (ZIP-FIT compresses text; none selects all).
EMBEDDING_METHODS = {"facility_location", "graph_cut", "logdet", "disparity_sum", "disparity_min", "smart"}


@task(name="load-sources", cache_policy=NO_CACHE)
def sources_stage(cfg: RunConfig) -> tuple[DocumentStream, list[dict]]:
    """The documents (streamed into `sources/` in the run dir), and one report per source and CSV table."""
    logger = get_run_logger()

    def log(report: dict) -> None:
        logger.info("source %s: %d documents, skipped %s", report["source"], report["documents"], report["skipped"] or "none")
        for reason, places in report["examples"].items():
            logger.warning("source %s: skipped %d rows (%s), e.g. %s", report["source"], report["skipped"][reason], reason, places[0])
        if not report["documents"]:
            logger.warning("source %s gave no documents: generators that read documents will produce nothing from it", report["source"])

    documents, reports = write_documents(cfg.run_dir, cfg.sources, log)
    for report in table_reports(cfg.generators):  # CSV tables: rows skipped for a wrong field count
        logger.info("table %s: %d rows, skipped %s", report["source"], report["rows"], report["skipped"] or "none")
        reports.append(report)
    return documents, reports


def _sink(store: RunStore, stage: str):
    counter = itertools.count()

    def write(table) -> None:
        if table.num_rows:
            store.write_shard(stage, next(counter), table)

    return write


@task(name="curate", cache_policy=NO_CACHE)
def curate_stage(cfg: RunConfig, names: list[str]) -> dict[str, Any]:
    import filters
    from taskmill.embeddings import EmbeddingCache

    store = RunStore(cfg.run_dir)
    if store.stage_done("curated"):
        return store.manifest()["stages"]["curated"].get("report", {})
    for stage in ("curated", "rejects/curation"):
        store.clear_stage(stage)

    def shards():
        for name in names:
            yield from store.iter_shards(generated_stage(name))

    start = time.perf_counter()
    report = filters.curate(
        shards,
        cfg.curation,
        executor=RayExecutor(num_cpus=cfg.ray.task_cpus),
        write_kept=_sink(store, "curated"),
        write_rejects=_sink(store, "rejects/curation"),
        embeddings=EmbeddingCache(store.path("embeddings")),
    )
    summary = report.to_dict() if hasattr(report, "to_dict") else dict(report)
    summary["seconds"] = round(time.perf_counter() - start, 3)
    store.mark_stage_done("curated", report=summary)
    return summary


@task(name="select", cache_policy=NO_CACHE)
def select_stage(cfg: RunConfig) -> dict[str, Any]:
    import selection
    from taskmill.embeddings import EmbeddingCache

    store = RunStore(cfg.run_dir)
    if store.stage_done("selected"):
        return store.manifest()["stages"]["selected"].get("report", {})
    store.clear_stage("selected")
    records = from_table(store.read_stage(selection_input(cfg)))
    embeddings = None
    if records and cfg.selection.method in EMBEDDING_METHODS:
        cache = EmbeddingCache(store.path("embeddings"))
        embeddings = cache.embed(records, [r["id"] for r in records])
    result = selection.select(records, embeddings, cfg.selection)
    chosen = [records[i] for i in result.indices]
    if cfg.selection.templates.fewshot_fraction > 0:
        # FLAN-style template mixing: some records are rendered few-shot, exemplars from the pool
        chosen = selection.mix_templates(chosen, cfg.selection.templates, cfg.selection.seed, pool=records)
    write = _sink(store, "selected")
    for start in range(0, len(chosen), SHARD_ROWS):
        write(to_table(chosen[start : start + SHARD_ROWS]))
    report = {
        "available": len(records),
        "selected": len(chosen),
        "objective": result.objective,
        "mixture": result.mixture_table,
        "diversity": selection.diversity_table(chosen),  # compression ratio and n-gram diversity per task
    }
    store.mark_stage_done("selected", report=report)
    return report


# log_prints off: `datasets` fingerprints functions through dill, which disassembles them with print();
# under the flow's log_prints that bytecode would land in the run log.
@task(name="export", cache_policy=NO_CACHE, log_prints=False)
def export_stage(cfg: RunConfig, mixture_table: list[dict], summary: dict[str, Any]) -> dict[str, str]:
    from taskmill.export import export_records, exportable, token_counter_for

    store = RunStore(cfg.run_dir)
    # Records no trainer format can hold (empty turn, non-string content, ...) and, with
    # export.max_tokens, over-long ones (too_long) go to rejects/export with their reason.
    counter = token_counter_for(cfg.export, cfg.engine.name)
    records, invalid, token_counts = exportable(from_table(store.read_stage("selected")), cfg.export.max_tokens, counter)
    store.clear_stage("rejects/export")
    if invalid:
        store.write_shard("rejects/export", 0, to_table(invalid))
    summary.setdefault("rejects", {})["export"] = dict(Counter(r["reject_reason"] for r in invalid))
    summary["records_per_stage"]["exported"] = len(records)
    return export_records(
        store.path("export"),
        records,
        formats=list(cfg.export.formats),
        dataset_name=cfg.export.dataset_name,
        hf_dataset=cfg.export.hf_dataset,
        mixture_table=mixture_table,
        summary=summary,
        token_counts=token_counts,
        tokenizer=counter.name,
        resolved_config=cfg.masked(),
    )

