"""`select()`: the one entry point the flow calls.

Routing:
- mixture.strategy = none: the method runs once over all records for the budget;
- proportional / temperature / weights: the budget is split over tasks first
  (mixture.py), then the method picks instances inside each task;
- smart (method or mixture strategy): SMART stage 1 sets task budgets; with
  method = smart the instances come from f2 per (task, template) group and the
  output is shuffled with the SMART seed, otherwise `method` picks inside each task.

Methods that need embeddings (all but none and zipfit) take L2-normalized rows
aligned with `records`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from selection.compression import compression_ratio, ngram_diversity, top_k, zipfit_scores
from selection.config import SelectionConfig, resolve_budget
from selection.greedy import GreedyResult, farthest_point, run_greedy
from selection.kernels import cosine_kernel, inverse_lists, knn_graph, require_finite
from selection.quality import WithQuality, quality_scores
from selection.mixture import (
    MixtureRow,
    extend_by_repeats,
    group_by_task,
    mixture_counts,
    normalized,
    sample_within,
    task_of,
    task_rates,
)
from selection.smart import plan_smart, shuffle_output, template_split, template_type_of
from selection.submodular import DisparitySum, FacilityLocation, GraphCut, LogDet, SetFunction, SparseFacilityLocation
from taskmill.records import derive_seed

EMBEDDING_METHODS = ("facility_location", "graph_cut", "logdet", "disparity_sum", "disparity_min", "smart")


@dataclass
class SelectionResult:
    indices: list[int]  # positions in `records`, in selection (export) order; repeats only when upsampling
    gains: list[float]  # per selected index: its greedy gain (ZIP-FIT: its alignment score; none: 0)
    objective: float  # f(X) reached (summed over tasks when selection runs per task; SMART: stage-1 f1)
    mixture_table: list[dict]  # rows {task, available, chosen, weight}
    details: dict = field(default_factory=dict)  # method parameters and per-stage facts for the manifest


def build_function(method: str, emb: np.ndarray, config: SelectionConfig, kernel_mode: str | None = None) -> SetFunction:
    """The set function for `method` on these embeddings, dense or kNN-sparse per config.kernel."""
    kc = config.kernel
    mode = kernel_mode or kc.mode
    dense = kc.kind == "dense" or (kc.kind == "auto" and len(emb) <= kc.dense_max)
    if method == "facility_location":
        if dense:
            return FacilityLocation(cosine_kernel(emb, mode=mode))
        graph = knn_graph(emb, kc.k, method=kc.knn_method, exact_max=kc.dense_max, seed=config.seed, nprobe=kc.nprobe)
        return SparseFacilityLocation(inverse_lists(graph, clip=True))
    if method == "graph_cut":
        if dense:
            return GraphCut(kernel=cosine_kernel(emb, mode=mode), lam=config.gc_lambda)
        return GraphCut(embeddings=emb, lam=config.gc_lambda)  # linear kernel, no n x n matrix
    if method == "logdet":
        return LogDet(embeddings=emb, lam=config.logdet_lambda)  # linear kernel: PSD, rows on demand
    if method == "disparity_sum":
        return DisparitySum(kernel=cosine_kernel(emb, mode=mode)) if dense else DisparitySum(embeddings=emb)
    raise ValueError(f"no set function for method {method!r}")


def _select_group(
    positions: Sequence[int],
    count: int,
    method: str,
    embeddings: np.ndarray | None,
    scores: np.ndarray | None,
    config: SelectionConfig,
    seed_key: str,
    allow_upsample: bool = False,
    quality: np.ndarray | None = None,
) -> GreedyResult:
    """Choose `count` of `positions` with `method`; returns global positions.

    `quality`: q_j per record (all records), added as λ·Σq to greedy set functions (selection/quality.py).
    """
    positions = np.asarray(positions, dtype=np.int64)
    take = min(count, len(positions))
    if take <= 0:
        return GreedyResult()
    if method == "none":
        if take == len(positions):
            local = GreedyResult(list(range(take)), [0.0] * take)
        else:
            seed = derive_seed(config.seed, "select-none", seed_key)
            local = GreedyResult(sample_within(range(len(positions)), take, seed), [0.0] * take)
    elif method == "zipfit":
        order = top_k(scores[positions], take)
        local = GreedyResult(order, [float(scores[positions[i]]) for i in order], float(scores[positions[order]].sum()))
    elif method == "disparity_min":
        local, _radius = farthest_point(embeddings=embeddings[positions], k=take)
    else:
        f = build_function(method, embeddings[positions], config)
        if quality is not None and config.quality.weight > 0:
            f = WithQuality(f, quality[positions], config.quality.weight)
        local = run_greedy(
            f,
            take,
            optimizer=config.optimizer,
            epsilon=config.epsilon,
            seed=derive_seed(config.seed, "stochastic", seed_key),
            stop_if_zero_gain=config.stop_if_zero_gain,
            stop_if_negative_gain=config.stop_if_negative_gain,
        )
    chosen = [int(positions[i]) for i in local.indices]
    gains = list(local.gains)
    if allow_upsample and count > len(chosen) and chosen:
        chosen, gains = extend_by_repeats(chosen, count), extend_by_repeats(gains, count)
    return GreedyResult(chosen, gains, float(local.objective))


def _table(groups: dict[str, list[int]], chosen: Sequence[int], weights: dict[str, float]) -> list[dict]:
    per_task: dict[str, int] = defaultdict(int)
    task_at = {i: t for t, members in groups.items() for i in members}
    for i in chosen:
        per_task[task_at[i]] += 1
    return [MixtureRow(t, len(m), per_task[t], float(weights.get(t, 0.0))).as_dict() for t, m in groups.items()]


def _check_inputs(records: Sequence[dict], embeddings: np.ndarray | None, config: SelectionConfig) -> np.ndarray | None:
    needs = config.method in EMBEDDING_METHODS or config.mixture.strategy == "smart"
    if embeddings is None:
        if needs:
            raise ValueError(f"method={config.method!r} / mixture.strategy={config.mixture.strategy!r} needs embeddings")
        return None
    emb = np.asarray(embeddings, dtype=np.float32)
    if emb.ndim != 2 or len(emb) != len(records):
        raise ValueError(f"embeddings must be (len(records), d) = ({len(records)}, d), got {emb.shape}")
    return require_finite(emb, "selection embeddings", ids=[r.get("id") for r in records])


def select(records: Sequence[dict], embeddings: np.ndarray | None, config: SelectionConfig | dict) -> SelectionResult:
    config = config if isinstance(config, SelectionConfig) else SelectionConfig.model_validate(config)
    if not records:
        return SelectionResult([], [], 0.0, [], {"method": config.method, "budget": 0})
    emb = _check_inputs(records, embeddings, config)
    total = resolve_budget(config.budget, len(records))
    groups = group_by_task(records)
    scores = None
    quality = quality_scores(records, config.quality) if config.quality.weight > 0 else None
    if config.method == "zipfit":
        z = config.zipfit
        texts = [record_text(r) for r in records]
        scores = zipfit_scores(texts, z.targets, z.level, z.compressor, z.workers, z.long_text)
    details = {
        "method": config.method,
        "budget": total,
        "optimizer": config.optimizer,
        "seed": config.seed,
        "kernel": config.kernel.model_dump(),
    }
    if quality is not None:
        details["quality"] = {**config.quality.model_dump(), "mean_q": round(float(quality.mean()), 4)}
    if config.method == "smart" or config.mixture.strategy == "smart":
        return _select_smart(records, emb, scores, groups, total, config, details, quality)
    if config.mixture.strategy == "none":
        result = _select_group(range(len(records)), total, config.method, emb, scores, config, "all", quality=quality)
        table = _table(groups, result.indices, {})
        for row in table:  # no target mix: the weight is the realized share
            row["weight"] = row["chosen"] / max(1, len(result.indices))
        return SelectionResult(result.indices, result.gains, result.objective, table, details)
    tasks = list(groups)
    sizes = [len(groups[t]) for t in tasks]
    rates = task_rates(tasks, sizes, config.mixture)
    counts = mixture_counts(total, rates, sizes, config.mixture.allow_upsample)
    indices: list[int] = []
    gains: list[float] = []
    objective = 0.0
    for task, count in zip(tasks, counts):
        part = _select_group(
            groups[task], count, config.method, emb, scores, config, task, config.mixture.allow_upsample, quality
        )
        indices += part.indices
        gains += part.gains
        objective += part.objective
    details.update(mixture=config.mixture.model_dump(), counts=dict(zip(tasks, counts)))
    table = _table(groups, indices, dict(zip(tasks, normalized(rates))))
    return SelectionResult(indices, gains, objective, table, details)


def _select_smart(records, emb, scores, groups, total, config: SelectionConfig, details: dict, quality=None) -> SelectionResult:
    smart = config.smart
    plan = plan_smart([task_of(r) for r in records], emb, total, smart, seed=config.seed)
    indices: list[int] = []
    gains: list[float] = []
    for j in plan.order:
        task = plan.tasks[j]
        budget = plan.budgets[task]
        if config.method != "smart":
            part = _select_group(groups[task], budget, config.method, emb, scores, config, task, quality=quality)
            indices += part.indices
            gains += part.gains
            continue
        by_template: dict[str, list[int]] = defaultdict(list)
        for i in groups[task]:
            by_template[template_type_of(records[i])].append(i)
        split = template_split(budget, {t: len(m) for t, m in by_template.items()})
        for template, count in split.items():
            part = _smart_instances(by_template[template], count, emb, config, quality)
            indices += part.indices
            gains += part.gains
    if config.method == "smart":
        indices, gains = shuffle_output(indices, gains, smart.shuffle_seed)
    weights = {plan.tasks[j]: w for j, w in zip(plan.order, plan.weights)}
    details.update(
        smart=smart.model_dump(),
        temperature=smart.resolved_temperature(),
        task_order=[plan.tasks[j] for j in plan.order],
        task_gains=plan.gains,
        task_weights=plan.weights,
        task_budgets={t: b for t, b in plan.budgets.items() if b},
    )
    return SelectionResult(indices, gains, plan.objective, _table(groups, indices, weights), details)


def _smart_instances(positions: list[int], count: int, emb: np.ndarray, config: SelectionConfig, quality=None) -> GreedyResult:
    """Stage 2: f2 greedy inside one (task, template) group; parity uses the raw dense cosine kernel."""
    method = {"fl": "facility_location", "gc": "graph_cut", "logdet": "logdet"}[config.smart.f2]
    smart = config.smart
    sub = config.model_copy(update={"optimizer": "lazy", "gc_lambda": smart.gc_lambda, "logdet_lambda": smart.logdet_lambda})
    if smart.mode == "parity":
        sub = sub.model_copy(update={"kernel": sub.kernel.model_copy(update={"kind": "dense", "mode": "raw"})})
    return _select_group(positions, count, method, emb, None, sub, f"smart-{positions[0] if positions else 0}", quality=quality)


def record_text(record: dict) -> str:
    """The text compression-based methods compare: instruction, input and output, newline-joined."""
    return "\n".join(p for p in (record.get("instruction"), record.get("input"), record.get("output")) if p)


def diversity_table(records: Sequence[dict]) -> list[dict]:
    """Per task: count, compression ratio (higher = more redundant) and n-gram diversity, for the manifest."""
    rows = []
    for task, members in group_by_task(records).items():
        texts = [record_text(records[i]) for i in members]
        rows.append({"task": task, "count": len(members), "cr": compression_ratio(texts), "ngd": ngram_diversity(texts)})
    return rows
