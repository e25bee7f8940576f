"""Held-out verifiable chains, split by source document, scored step by step.

A run with a `sifo_chain` stage gets a second held-out family: chains made
with that stage's own settings (lengths, operations, sentence bounds) from
documents that no training row came from, under a seed of their own. A model's
answer is graded with the method's own checker (`generators.chains.checker.
score_record`, SIFo's per-step exact match): step i is right when the i-th
output of the transcript equals the gold i-th output. Step accuracy per step
index shows where a chain breaks; `correct` is the last step (SIFo's instance
accuracy) and `depth` the leading run of right steps.
"""

from __future__ import annotations

import math
from typing import Any

from generators.chains.checker import score_record
from taskmill.evaluate.config import HeldoutConfig
from taskmill.records import derive_seed, sha256_hex

METHOD = "sifo_chain"


def find_generator(run_config: dict[str, Any], method: str, name: str | None, field: str):
    """The run's first generator of `method` (or the one named `name`) as its config; None when absent.

    Raises ValueError when `name` is given and no such stage exists (the message names `field`).
    """
    candidates = [g for g in run_config.get("generators") or [] if g.get("method") == method]
    if name is not None:
        candidates = [g for g in candidates if g.get("name") == name]
        if not candidates:
            raise ValueError(f"{field}: the run's config.yaml has no {method} generator named {name!r}")
    if not candidates:
        return None
    if method == METHOD:
        from generators.chains.config import SifoChainConfig

        return SifoChainConfig.model_validate(candidates[0])
    from generators.sql.config import SqlExecConfig

    return SqlExecConfig.model_validate(candidates[0])


def run_documents(run_config: dict[str, Any]) -> list[dict]:
    """The run's source documents ({"id", "text", "source"}), read again as the run read them."""
    from taskmill.sources import SourceConfig, load_source

    documents: list[dict] = []
    for index, raw in enumerate(run_config.get("sources") or []):
        try:
            source = SourceConfig.model_validate(raw)
        except ValueError as err:
            raise ValueError(f"config.yaml sources[{index}]: {err}") from None
        documents.extend(load_source(source)[0])
    return documents


def choose_heldout_documents(doc_ids: list[str], cfg: HeldoutConfig, seed: int) -> list[str]:
    """Named documents, else a seeded `fraction` of them (at least one, never all)."""
    if cfg.documents is not None:
        unknown = sorted(set(cfg.documents) - set(doc_ids))
        if unknown:
            shown = doc_ids[:10] + (["..."] if len(doc_ids) > 10 else [])
            raise ValueError(f"heldout.documents: {unknown} are not documents of the run's sources; known: {shown}")
        return sorted(cfg.documents, key=doc_ids.index)
    if len(doc_ids) < 2:
        raise ValueError(f"heldout: the run has {len(doc_ids)} document(s); holding chains out by document needs at least 2")
    count = min(len(doc_ids) - 1, max(1, math.ceil(cfg.fraction * len(doc_ids))))
    ranked = sorted(doc_ids, key=lambda d: sha256_hex(f"{seed}|heldout-doc|{d}"))
    return sorted(ranked[:count], key=doc_ids.index)


def make_heldout_chains(chain_config, documents: list[dict], count: int, seed: int) -> list[dict]:
    """Up to `count` chains from `documents` only, with the stage's settings and a seed of its own.

    Chains are taken slot by slot across documents (slot 0 of every document, then slot 1, ...),
    so a long document does not fill the set. Raises ValueError when the documents give none.
    """
    from generators.chains.sifo import SifoChainGenerator

    per_document = max(1, math.ceil(count / max(1, len(documents))))
    config = chain_config.model_copy(update={"chains_per_document": per_document})
    generator = SifoChainGenerator(config, derive_seed(seed, "heldout-chain"))
    made = [r for shard in generator.plan_shards(documents) for r in generator.run_shard(shard).kept]
    made.sort(key=lambda r: (r["meta"]["slot"], r["source_id"]))
    if not made:
        raise ValueError(
            f"heldout: the held-out documents {[d['id'] for d in documents][:10]} gave no chain "
            "(no usable sentence); hold out other documents"
        )
    return made[:count]


def score_chain_row(record: dict, completion: str) -> dict[str, Any]:
    """One scored chain: per-step right/wrong from the method's checker, depth and instance accuracy."""
    score = score_record(record, completion)
    meta = record.get("meta") or {}
    return {
        "id": record["id"], "method": METHOD, "source": record["source_id"], "chain_length": len(score.steps),
        "ops": [op["name"] for op in meta.get("ops", [])], "gold": record["output"], "completion": completion,
        "steps": score.steps, "lenient_steps": score.lenient, "depth": score.depth, "correct": score.correct,
        "parse_error": score.parse_error,
    }  # fmt: skip


def chain_groups(row: dict) -> list[tuple[str, str, bool]]:
    """(group, value, right) entries of one scored chain for the accuracy table.

    `all`: the last step (instance accuracy); `chain_length`: the same by length;
    `step`: one entry per step index the chain has (step accuracy).
    """
    out = [("all", METHOD, row["correct"]), ("chain_length", str(row["chain_length"]), row["correct"])]
    out += [("step", str(i), ok) for i, ok in enumerate(row["steps"], start=1)]
    return out
