"""Curation over shards: rules → task form → label collapse → exact dedup → MinHash → semantic dedup → decontamination.

Streaming with bounded memory: `shards` is re-opened for each pass instead
of holding records in memory. Between passes the driver keeps only compact
numpy columns per surviving record (position, priority, 32-byte exact key,
16 band keys: ~200 bytes a record, ~0.2 GB per million).

Passes:
1. scan (executor, per batch): rule filters and task-form checks (rejects written
   at once), exact keys, MinHash band keys and closed-task labels of the survivors;
   decontamination matches (driver). Then global decisions: collapsed label
   groups (filters/label_collapse.py), exact groups, LSH candidates.
2. verify (only if there are LSH candidates): shingle sets of the records in
   candidate pairs → exact Jaccard → clusters.
3. embed (only if semantic dedup is on): embeddings through the cache → SemDeDup.
4. write: kept records and the dedup / decontamination rejects, per input shard.
"""

from __future__ import annotations

import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Iterator

import numpy as np
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field

from filters.decontaminate import DecontaminationConfig, EvalIndex, dataset_report, decontam_text
from filters.exact import ExactConfig, exact_duplicates
from filters.label_collapse import collapsed
from filters.judge import JudgeConfig
from filters.minhash import MinHashConfig, candidate_pairs, cluster_candidates, minhash_text, shingle_hashes
from filters.roundtrip import RoundtripConfig
from filters.rules import RulesConfig
from filters.scan import RULES_STAGE, scan_batch
from filters.semantic import SemanticConfig, semantic_dedup
from filters.shard_io import Coalesce, iter_shards, pack_batches
from filters.task_form import STAGE as TASK_FORM_STAGE
from filters.task_form import TaskFormConfig
from taskmill.executors import LocalExecutor
from taskmill.records import from_table, reject, to_table

KEPT, EXACT, NEAR, SEMANTIC, CONTAMINATED, COLLAPSED = range(6)
_OUTCOME = {  # status → (reason, stage, score name)
    EXACT: ("exact_dup", "exact", None),
    NEAR: ("near_dup", "minhash", "jaccard"),
    SEMANTIC: ("semantic_dup", "semantic", "cosine"),
}


class CurationConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rules: RulesConfig = RulesConfig()
    task_form: TaskFormConfig = TaskFormConfig()  # the quality gate's task-form checks (after the rules)
    exact: ExactConfig = ExactConfig()
    minhash: MinHashConfig = MinHashConfig()
    semantic: SemanticConfig = SemanticConfig()
    decontamination: DecontaminationConfig = DecontaminationConfig()
    # optional round-trip consistency check (re-answer generated QA with an engine): flows/roundtrip.py
    roundtrip: RoundtripConfig = RoundtripConfig()
    judge: JudgeConfig = JudgeConfig()  # optional LLM judge; the flow runs it after curate() (flows/judge.py)
    # method → priority; higher is kept first by the dedup stages (e.g. human-written over synthetic)
    priority: dict[str, int] = {}
    batch_size: int = Field(2048, ge=1)  # records per executor task
    shards_per_round: int = Field(4, ge=1)  # batches of records per scan round (bounds memory)
    embed_chunk: int = Field(8192, ge=1)  # records embedded per cache call


@dataclass
class StageFunnel:
    stage: str
    enabled: bool
    seen: int
    kept: int
    rejected: dict[str, int] = field(default_factory=dict)


@dataclass
class CurationReport:
    records_in: int
    records_kept: int
    funnel: list[StageFunnel]
    decontamination: list[dict]  # per (dataset = generator method, eval) rows
    contamination_hits: list[dict]  # which eval items were hit by which records
    seconds: dict[str, float]
    stats: dict[str, Any] = field(default_factory=dict)  # e.g. LSH candidate pairs, semantic clusters

    def rejects_by_reason(self) -> dict[str, int]:
        total: Counter = Counter()
        for stage in self.funnel:
            total.update(stage.rejected)
        return dict(sorted(total.items()))

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "rejects_by_reason": self.rejects_by_reason()}


@dataclass
class _Survivors:
    """Compact columns for every record that passed the rule filters, in input order."""

    shard_sizes: list[int] = field(default_factory=list)
    positions: Any = field(default_factory=list)
    ids: Any = field(default_factory=list)
    methods: Any = field(default_factory=list)
    digests: Any = field(default_factory=list)
    bands: Any = field(default_factory=list)
    labels: list = field(default_factory=list)  # (group, label) or None per survivor: filters/label_collapse.py
    method_names: dict[str, int] = field(default_factory=dict)
    matches: dict[int, list[tuple[int, float]]] = field(default_factory=dict)
    rule_reasons: Counter = field(default_factory=Counter)
    task_form_reasons: Counter = field(default_factory=Counter)
    count: int = 0

    def freeze(self) -> None:
        self.positions = np.concatenate(self.positions) if self.positions else np.zeros(0, np.int64)
        self.methods = np.concatenate(self.methods) if self.methods else np.zeros(0, np.int32)
        self.digests = np.concatenate(self.digests) if self.digests else np.zeros((0, 32), np.uint8)
        self.bands = np.concatenate(self.bands) if self.bands else np.zeros((0, 0), np.uint64)
        self.ids = pa.concat_arrays(self.ids) if self.ids else pa.array([], pa.string())

    def of_methods(self, names: list[str]) -> np.ndarray:
        """Boolean mask over survivors: produced by one of these methods."""
        codes = [self.method_names[n] for n in names if n in self.method_names]
        return np.isin(self.methods, codes)

    def id_of(self, index: int) -> str:
        return self.ids[int(index)].as_py()


def _scan(shards, cfg: CurationConfig, executor, write_rejects, index: EvalIndex | None) -> _Survivors:
    state = _Survivors()
    pending: list[tuple[int, int, pa.Table]] = []

    def run_round() -> None:
        batches = pack_batches(pending, cfg.batch_size)
        results = executor.map(scan_batch, [b for _, b, _ in batches], cfg.rules, cfg.exact, cfg.minhash, cfg.task_form)
        rejects: dict[int, list[pa.Table]] = {}
        for (start, batch, number), result in zip(batches, results):
            state.rule_reasons.update(result["reasons"])
            state.task_form_reasons.update(result.get("task_form_reasons", {}))
            if result["rejects"].num_rows:
                rejects.setdefault(number, []).append(result["rejects"])
            rows = result["keep_rows"]
            state.positions.append(start + rows)
            state.ids.append(batch.column("id").take(rows).combine_chunks())
            methods = batch.column("method").take(rows).to_pylist()
            state.methods.append(np.array([state.method_names.setdefault(m, len(state.method_names)) for m in methods], np.int32))
            state.digests.append(result["digests"])
            state.bands.append(result["bands"])
            state.labels.extend(result["labels"])
            if index is not None and len(rows):
                texts = batch.select(["instruction", "input", "output"]).take(rows).to_pylist()
                for offset, record in enumerate(texts):
                    hits = index.match(decontam_text(record, cfg.decontamination.fields))
                    if hits:
                        state.matches[state.count + offset] = hits
            state.count += len(rows)
        for number in sorted(rejects):
            write_rejects(pa.concat_tables(rejects[number]))
        pending.clear()

    pending_rows = 0
    for number, start, table in iter_shards(shards):
        state.shard_sizes.append(table.num_rows)
        pending.append((number, start, table))
        pending_rows += table.num_rows
        # a round is shards_per_round full batches of records, however the records are sharded
        if pending_rows >= cfg.shards_per_round * cfg.batch_size:
            run_round()
            pending_rows = 0
    if pending:
        run_round()
    state.freeze()
    return state


def _records_of(shards, state: _Survivors, wanted: np.ndarray) -> Iterator[tuple[np.ndarray, list[dict]]]:
    """(survivor indices, their records) shard by shard, for sorted survivor indices `wanted`."""
    wanted_positions = state.positions[wanted]
    for _, start, table in iter_shards(shards, state.shard_sizes):
        lo, hi = np.searchsorted(wanted_positions, [start, start + table.num_rows])
        if hi > lo:
            yield wanted[lo:hi], from_table(table.take(wanted_positions[lo:hi] - start))


def _minhash_stage(shards, cfg: MinHashConfig, state, status, dup_of, score, priority) -> dict:
    alive = np.flatnonzero((status == KEPT) & ~state.of_methods(cfg.skip_methods))
    pairs = candidate_pairs(state.bands[alive], cfg.bucket_window) if len(alive) > 1 else np.zeros((0, 2), np.int64)
    state.bands = None  # no longer needed: free the largest column
    if len(pairs) == 0:
        return {"candidate_pairs": 0}
    need = alive[np.unique(pairs)]
    parts = [shingle_hashes([minhash_text(r, cfg) for r in records], cfg) for _, records in _records_of(shards, state, need)]
    offsets = [np.zeros(1, np.int64)]
    for _, offsets_part in parts:
        offsets.append(offsets_part[1:] + offsets[-1][-1])
    sets = (np.concatenate([p[0] for p in parts]), np.concatenate(offsets))
    _, rep, to_rep = cluster_candidates(pairs, sets, cfg.threshold, priority[need])
    removed = np.flatnonzero(rep != np.arange(len(need)))
    status[need[removed]] = NEAR
    dup_of[need[removed]] = need[rep[removed]]
    score[need[removed]] = to_rep[removed]
    return {"candidate_pairs": int(len(pairs))}


def _semantic_stage(shards, cfg: CurationConfig, state, status, dup_of, score, embeddings) -> dict:
    alive = np.flatnonzero((status == KEPT) & ~state.of_methods(cfg.semantic.skip_methods))
    temp = None
    if embeddings is None:
        from taskmill.embeddings import EmbeddingCache

        temp = tempfile.TemporaryDirectory(prefix="taskmill-emb-")
        embeddings = EmbeddingCache(temp.name, model=cfg.semantic.model, batch_size=cfg.semantic.embed_batch_size)
    try:
        ids: list[str] = []
        pending: list[dict] = []
        for _, records in _records_of(shards, state, alive):
            pending.extend(records)
            ids.extend(r["id"] for r in records)
            if len(pending) >= cfg.embed_chunk:  # only uncached ids are embedded
                embeddings.embed(pending, [r["id"] for r in pending])
                pending = []
        if pending:
            embeddings.embed(pending, [r["id"] for r in pending])
        local_dup, cosine, stats = semantic_dedup(embeddings.get(ids) if ids else np.zeros((0, 1)), cfg.semantic)
    finally:
        if temp is not None:
            temp.cleanup()
    removed = np.flatnonzero(local_dup >= 0)
    status[alive[removed]] = SEMANTIC
    dup_of[alive[removed]] = alive[local_dup[removed]]
    score[alive[removed]] = cosine[removed]
    return stats


def _decontam_stage(cfg: DecontaminationConfig, index: EvalIndex, state, status) -> tuple[list, list, dict[int, dict]]:
    names = {code: name for name, code in state.method_names.items()}
    alive = status == KEPT
    datasets = Counter(names[int(m)] for m in state.methods[alive])
    hits = [
        (names[int(state.methods[i])], state.id_of(i), item, coverage)
        for i, found in sorted(state.matches.items()) if alive[i] for item, coverage in found
    ]
    rows, hit_rows, flagged = dataset_report(index, hits, dict(datasets), cfg)
    details: dict[int, dict] = {}
    for i, found in sorted(state.matches.items()):
        if alive[i]:
            item, coverage = max(found, key=lambda hit: (hit[1], -hit[0]))
            info = index.items[item]
            details[i] = {"eval": info.eval_name, "eval_id": info.eval_id, "coverage": round(coverage, 4)}
    if cfg.action == "report_only":
        return rows, hit_rows, {}
    if cfg.action == "drop_dataset":
        flagged_sets = {}
        for dataset, eval_name in sorted(flagged):
            flagged_sets.setdefault(dataset, eval_name)
        for i in np.flatnonzero(alive):
            dataset = names[int(state.methods[i])]
            if dataset in flagged_sets:
                details[i] = {**details.get(i, {}), "dataset": dataset, "dataset_flagged_for": flagged_sets[dataset]}
        details = {i: d for i, d in details.items() if "dataset" in d}
    return rows, hit_rows, details


def _write(shards, state, status, dup_of, score, contaminated: dict[int, dict], collapse_detail: dict[int, dict], write_kept, write_rejects, rows: int) -> None:
    everyone = np.arange(state.count)
    write_kept, write_rejects = Coalesce(write_kept, rows), Coalesce(write_rejects, rows)
    for _, start, table in iter_shards(shards, state.shard_sizes):
        lo, hi = np.searchsorted(state.positions, [start, start + table.num_rows])
        here = everyone[lo:hi]
        kept = here[status[here] == KEPT]
        if len(kept):
            write_kept(table.take(state.positions[kept] - start))
        removed = here[status[here] != KEPT]
        if not len(removed):
            continue
        rejects = []
        for i, record in zip(removed, from_table(table.take(state.positions[removed] - start))):
            if status[i] == COLLAPSED:
                rejects.append(reject(record, "label_collapse", TASK_FORM_STAGE, **collapse_detail[int(i)]))
                continue
            if status[i] == CONTAMINATED:
                rejects.append(reject(record, "contaminated", "decontamination", **contaminated[int(i)]))
                continue
            reason, stage, score_name = _OUTCOME[int(status[i])]
            detail = {"dup_of": state.id_of(dup_of[i])}
            if score_name:
                detail[score_name] = round(float(score[i]), 4)
            rejects.append(reject(record, reason, stage, **detail))
        write_rejects(to_table(rejects))
    write_kept.close()
    write_rejects.close()


def curate(
    shards: Callable[[], Iterator[pa.Table]],
    config: CurationConfig | dict | None = None,
    *,
    executor=None,
    write_kept: Callable[[pa.Table], Any],
    write_rejects: Callable[[pa.Table], Any],
    embeddings=None,
) -> CurationReport:
    """Run every enabled stage over the shards; kept and rejected records go to the sinks.

    `shards()` must return a fresh iterator over the same tables each time.
    Rule rejects are written during the first pass (one call per scan batch with
    rejects), the other rejects and the kept records in the last pass, in input
    order, one call per `batch_size` records or more (small shards are coalesced).
    `embeddings`: an EmbeddingCache shared with selection; a temporary one if None.
    """
    cfg = config if isinstance(config, CurationConfig) else CurationConfig.model_validate(config or {})
    executor = executor or LocalExecutor()
    seconds: dict[str, float] = {}
    clock = time.perf_counter()
    decontam = cfg.decontamination
    index = EvalIndex.build(decontam) if decontam.enabled and decontam.evals else None
    state = _scan(shards, cfg, executor, write_rejects, index)
    seconds["scan"] = time.perf_counter() - clock
    n = state.count
    status = np.zeros(n, dtype=np.uint8)
    dup_of = np.full(n, -1, dtype=np.int64)
    score = np.zeros(n, dtype=np.float32)
    codes = {code: name for name, code in state.method_names.items()}
    priority = np.array([cfg.priority.get(codes[int(m)], 0) for m in range(len(codes))], np.int64)[state.methods] if n else np.zeros(0, np.int64)
    after_rules = sum(state.shard_sizes) - sum(state.rule_reasons.values())
    funnel = [StageFunnel(RULES_STAGE, cfg.rules.enabled, sum(state.shard_sizes), after_rules, dict(sorted(state.rule_reasons.items())))]
    collapse_detail = collapsed(state.labels, cfg.task_form.label_collapse) if cfg.task_form.enabled else {}
    state.labels = None
    for i in collapse_detail:
        status[i] = COLLAPSED
    n_kept = n - len(collapse_detail)
    if cfg.task_form.enabled:  # listed only when on, so the funnel of a run without the gate is unchanged
        reasons = Counter(state.task_form_reasons) + Counter({"label_collapse": len(collapse_detail)})
        funnel.append(StageFunnel(TASK_FORM_STAGE, True, after_rules, n_kept, dict(sorted(reasons.items()))))

    def close_stage(stage: str, enabled: bool, seen: int, code: int, reason: str) -> None:
        rejected = int(np.count_nonzero(status == code)) if enabled else 0
        funnel.append(StageFunnel(stage, enabled, seen, seen - rejected, {reason: rejected} if rejected else {}))

    clock = time.perf_counter()
    if cfg.exact.enabled and n_kept:
        alive = np.flatnonzero(status == KEPT)
        rep = exact_duplicates(state.digests[alive], priority[alive])
        removed = rep != np.arange(len(alive))
        status[alive[removed]], dup_of[alive[removed]] = EXACT, alive[rep[removed]]
    state.digests = None
    close_stage("exact", cfg.exact.enabled, n_kept, EXACT, "exact_dup")
    seconds["exact"] = time.perf_counter() - clock

    clock = time.perf_counter()
    seen = int(np.count_nonzero(status == KEPT))
    stats: dict[str, Any] = {}
    if cfg.minhash.enabled:
        stats["minhash"] = _minhash_stage(shards, cfg.minhash, state, status, dup_of, score, priority)
    close_stage("minhash", cfg.minhash.enabled, seen, NEAR, "near_dup")
    seconds["minhash"] = time.perf_counter() - clock

    clock = time.perf_counter()
    seen = int(np.count_nonzero(status == KEPT))
    if cfg.semantic.enabled and seen:
        stats["semantic"] = _semantic_stage(shards, cfg, state, status, dup_of, score, embeddings)
    close_stage("semantic", cfg.semantic.enabled, seen, SEMANTIC, "semantic_dup")
    seconds["semantic"] = time.perf_counter() - clock

    seen = int(np.count_nonzero(status == KEPT))
    rows, hit_rows, contaminated = ([], [], {}) if index is None else _decontam_stage(decontam, index, state, status)
    for i in contaminated:
        status[i] = CONTAMINATED
    close_stage("decontamination", index is not None, seen, CONTAMINATED, "contaminated")

    clock = time.perf_counter()
    _write(shards, state, status, dup_of, score, contaminated, collapse_detail, write_kept, write_rejects, cfg.batch_size)
    seconds["write"] = time.perf_counter() - clock
    return CurationReport(
        records_in=sum(state.shard_sizes),
        records_kept=int(np.count_nonzero(status == KEPT)),
        funnel=funnel,
        decontamination=rows,
        contamination_hits=hit_rows,
        seconds={k: round(v, 3) for k, v in seconds.items()},
        stats=stats,
    )
