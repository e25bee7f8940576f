"""FLAN-style mixing (spec §7): how many examples each task contributes, and template mixing.

Strategies (all end in exact largest-remainder counts that never exceed a
task's size unless `allow_upsample`):
- proportional: rate(t) = min(cap_t, n_t), the examples-proportional mix with a cap;
- temperature: rate(t) = min(cap_t, n_t)^(1/T) (T > 1 flattens toward equal);
- weights: explicit task weights (unknown task names are an error: typos
  must not silently drop a task);
- smart: weights from SMART's stage-1 gains (see smart.py).
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np

from selection.apportion import capped_largest_remainder, largest_remainder
from selection.config import MixtureConfig, TemplateMixConfig
from taskmill.records import derive_seed

log = logging.getLogger(__name__)
INVERTED_SUFFIX = "/inverted"  # task name of input-inverted variants (mixed at `inversion_rate`)


def task_of(record: dict) -> str:
    """A record's mixing unit: meta["task"], else meta["task_type"], else its generator method."""
    meta = record.get("meta") or {}
    for key in ("task", "task_type"):
        if meta.get(key):
            return str(meta[key])
    return str(record.get("method") or "unknown")


def group_by_task(records: Sequence[dict]) -> dict[str, list[int]]:
    """Task → record positions, tasks in sorted order so every later loop is deterministic."""
    groups: dict[str, list[int]] = defaultdict(list)
    for i, rec in enumerate(records):
        groups[task_of(rec)].append(i)
    return {t: groups[t] for t in sorted(groups)}


@dataclass
class MixtureRow:
    task: str
    available: int
    chosen: int
    weight: float  # target share of the mixture (before integer rounding and caps)

    def as_dict(self) -> dict:
        return asdict(self)


def parse_amount(value: str | int | float, available: int) -> int:
    """open-instruct style amount: "0.25" is a fraction of `available`, "1500" a count (may upsample)."""
    text = str(value).strip()
    if any(c in text for c in ".eE"):
        fraction = float(text)
        if not 0 <= fraction <= 1:
            raise ValueError(f"amount {text!r}: a fraction must be in [0, 1]")
        return int(fraction * available)
    count = int(text)
    if count < 0:
        raise ValueError(f"amount {text!r}: a count must be >= 0")
    if count <= 10:
        log.warning("amount %r is read as a count of %d examples; write %r for a fraction", text, count, f"{count}.0")
    return count


def task_rates(tasks: Sequence[str], sizes: Sequence[int], config: MixtureConfig) -> list[float]:
    """Unnormalized mixing rates per task for the proportional, temperature and weights strategies."""
    if config.strategy == "weights":
        unknown = sorted(set(config.weights) - set(tasks))
        if unknown:
            raise ValueError(f"mixture.weights names unknown tasks {unknown}; known: {list(tasks)}")
        return [float(config.weights.get(t, 0.0)) for t in tasks]
    capped = [min(config.caps.get(t, config.cap or n), n) for t, n in zip(tasks, sizes)]
    if config.strategy == "temperature":
        rates = [float(c) ** (1.0 / config.temperature) for c in capped]
    else:
        rates = [float(c) for c in capped]
    return [r * (config.inversion_rate if t.endswith(INVERTED_SUFFIX) else 1.0) for t, r in zip(tasks, rates)]


def mixture_counts(
    total: int, weights: Sequence[float], sizes: Sequence[int], allow_upsample: bool = False
) -> list[int]:
    """Counts per task summing to `total` where possible; without upsampling no task exceeds its size."""
    if allow_upsample:
        return largest_remainder(total, weights)
    counts = capped_largest_remainder(total, weights, sizes)
    if sum(counts) < total:
        log.warning("mixture: only %d of the %d requested examples exist in weighted tasks", sum(counts), total)
    return counts


def normalized(weights: Sequence[float]) -> list[float]:
    denom = float(sum(weights))
    return [float(w) / denom if denom else 0.0 for w in weights]


def flan_unit_shares(
    units: Sequence[tuple[str, int, float]], submix_weights: dict[str, float], submix_caps: dict[str, int]
) -> tuple[list[float], list[float]]:
    """FLAN two-level mix: units (submix, n_u, relative rate) → (in-submix shares, global shares).

    rate(u) = min(cap_submix, n_u) · relative rate (1 for originals, 0.3 for
    inverted inputs); P(u | submix) = rate / Σ rates; global = submix weight · P.
    """
    rates = [min(submix_caps[s], n) * rel for s, n, rel in units]
    per_submix: dict[str, float] = defaultdict(float)
    for (s, _, _), r in zip(units, rates):
        per_submix[s] += r
    inside = [r / per_submix[s] if per_submix[s] else 0.0 for (s, _, _), r in zip(units, rates)]
    return inside, [submix_weights[s] * p for (s, _, _), p in zip(units, inside)]


def sample_within(positions: Sequence[int], count: int, seed: int, allow_upsample: bool = False) -> list[int]:
    """`count` positions without replacement (seeded); whole repeats first when upsampling."""
    positions = list(positions)
    rng = np.random.default_rng(seed)
    if count <= len(positions):
        return [positions[i] for i in rng.permutation(len(positions))[:count]]
    if not allow_upsample:
        raise ValueError(f"asked for {count} of {len(positions)} examples without allow_upsample")
    repeats, rest = divmod(count, len(positions))
    return positions * repeats + [positions[i] for i in rng.permutation(len(positions))[:rest]]


def extend_by_repeats(order: Sequence[int], count: int) -> list[int]:
    """Upsample a selection order to `count` by cycling it (keeps the method's preference order)."""
    order = list(order)
    if not order:
        return []
    return [order[i % len(order)] for i in range(count)]


def mixture_table_markdown(rows: Sequence[MixtureRow | dict]) -> str:
    """The mixture table for the dataset card."""
    lines = ["| task | available | chosen | weight |", "|---|---:|---:|---:|"]
    for row in rows:
        r = row.as_dict() if isinstance(row, MixtureRow) else row
        lines.append(f"| {r['task']} | {r['available']} | {r['chosen']} | {r['weight']:.4f} |")
    return "\n".join(lines)


# ---- template mixing ---------------------------------------------------------------------------


def _prompt_text(record: dict) -> str:
    instruction, inp = record.get("instruction") or "", record.get("input") or ""
    return instruction if not inp else f"{instruction}\n{inp}"


def _render_fewshot(record: dict, exemplars: Sequence[dict]) -> dict:
    blocks = [f"Example {k + 1}\n{_prompt_text(ex)}\nAnswer: {ex.get('output') or ''}" for k, ex in enumerate(exemplars)]
    blocks.append(f"Now the actual task\n{record.get('instruction') or ''}")
    out = dict(record)
    out["instruction"] = "\n\n".join(blocks)
    ex_ids = [str(ex.get("id")) for ex in exemplars]
    digest = hashlib.sha256("|".join([str(record.get("id")), *ex_ids]).encode("utf-8")).hexdigest()[:12]
    out["id"] = f"{record.get('id')}-fs-{digest}"
    out["parents"] = [str(record.get("id")), *ex_ids]
    meta = dict(record.get("meta") or {})
    meta.update(template_type="few_shot", exemplar_ids=ex_ids, zero_shot_id=record.get("id"))
    out["meta"] = meta
    return out


def mix_templates(records: Sequence[dict], config: TemplateMixConfig, seed: int, pool: Sequence[dict] | None = None) -> list[dict]:
    """Render `fewshot_fraction` of the records few-shot, with exemplars from the same task.

    Exemplars come from `pool` (default: the records themselves), never the
    record itself, and only those whose prompt + output fit `max_exemplar_chars`.
    A record whose task has no usable exemplar stays zero-shot. Which records
    turn few-shot, and their exemplars, depend only on the seed.
    """
    records = list(records)
    if config.fewshot_fraction <= 0 or not records:
        return records
    pool = list(pool if pool is not None else records)
    by_task: dict[str, list[int]] = defaultdict(list)
    for k, ex in enumerate(pool):
        if len(_prompt_text(ex)) + len(ex.get("output") or "") <= config.max_exemplar_chars:
            by_task[task_of(ex)].append(k)
    rng = np.random.default_rng(derive_seed(seed, "template-mix"))
    n_fewshot = int(round(config.fewshot_fraction * len(records)))
    chosen = set(rng.permutation(len(records))[:n_fewshot].tolist())
    out = []
    for i, rec in enumerate(records):
        if i not in chosen:
            out.append(rec)
            continue
        usable = [k for k in by_task.get(task_of(rec), []) if pool[k].get("id") != rec.get("id")]
        if not usable:
            out.append(rec)
            continue
        local = np.random.default_rng(derive_seed(seed, "exemplars", rec.get("id")))
        picks = local.permutation(len(usable))[: config.shots]
        out.append(_render_fewshot(rec, [pool[usable[p]] for p in sorted(picks)]))
    return out


# ---- input inversion ------------------------------------------------------------------------------

INVERSION_INSTRUCTION = "Here is a response. Write the request that this response answers."


def invert_records(records: Sequence[dict]) -> list[dict]:
    """FLAN-style input inversion: given the output, produce the input that leads to it.

    The inverted record's task is "<task>/inverted", so the mixer can weight it
    (FLAN: 0.3 against 1 for the originals); its parent is the original record.
    """
    out = []
    for rec in records:
        prompt = _prompt_text(rec)
        if not prompt or not rec.get("output"):
            continue
        inverted = dict(rec)
        inverted.update(instruction=INVERSION_INSTRUCTION, input=rec["output"], output=prompt)
        inverted["id"] = f"{rec.get('id')}-inv"
        inverted["parents"] = [str(rec.get("id"))]
        meta = dict(rec.get("meta") or {})
        meta.update(task=task_of(rec) + INVERTED_SUFFIX, inverted=True)
        inverted["meta"] = meta
        out.append(inverted)
    return out
