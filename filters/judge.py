"""LLM judge: score each kept record 1–5 per criterion with a short reason, drop those below a threshold.

[ours] The judge is any engine (the run's own, or another model behind the
OpenAI-compatible backend). It answers under structured output: a JSON object
with a short `reason` first (so the scores follow from it) and one integer
1–5 per criterion. Scores, their mean and the reason go to `meta.judge`;
records whose mean is below `threshold` (or any criterion below
`min_criterion`) are rejected with `judge_low_score`; a reply that is not a
valid verdict is `judge_failed` (or kept without a score, `on_error: keep`).
Selection can weight by `meta.judge.mean` (see `quality_weights`).
"""

from __future__ import annotations

import json
from typing import Any, Literal, Sequence

from pydantic import ConfigDict, Field

from filters.text_views import prompt_view, response_view
from taskmill.engine.base import Engine, GenerationRequest
from taskmill.engine.settings import EngineSettings
from taskmill.records import derive_seed, reject
from taskmill.switchable import Switchable

STAGE = "judge"

CRITERIA: dict[str, str] = {
    "task": "the instruction is a clear, self-contained task that a reader can act on",
    "grounded": "everything the task needs is given in the instruction (no missing passage or options)",
    "correct": "the response is a correct and complete answer to the instruction",
    "clean": "the record has no text about prompts, formats or placeholders, and no repetition",
}

SYSTEM = (
    "You review examples for training a language model. For the example you are shown, judge each "
    "criterion on a scale from 1 (fails badly) to 5 (fully met). Be strict: a wrong or off-topic "
    "response, or an instruction that is not a real task, scores 1 or 2."
)


class JudgeConfig(Switchable):  # `judge: false` turns it off
    model_config = ConfigDict(extra="forbid")
    enabled: bool = False
    engine: EngineSettings | None = None  # None: the run's engine
    criteria: dict[str, str] = dict(CRITERIA)  # name -> what a 5 means
    threshold: float = Field(3.0, ge=1, le=5)  # mean score below this is a reject
    min_criterion: int | None = Field(None, ge=1, le=5)  # also reject when any one criterion is below this
    on_error: Literal["reject", "keep"] = "reject"
    max_chars: int = Field(3000, ge=100)  # instruction / response text shown to the judge, each
    temperature: float = Field(0.0, ge=0)
    max_tokens: int = Field(200, ge=16)
    batch_size: int = Field(256, ge=1)  # requests per engine call


def verdict_schema(criteria: Sequence[str]) -> dict[str, Any]:
    properties: dict[str, Any] = {"reason": {"type": "string", "minLength": 3, "maxLength": 200}}
    properties.update({name: {"type": "integer", "enum": [1, 2, 3, 4, 5]} for name in criteria})
    return {"type": "object", "properties": properties, "required": list(properties), "additionalProperties": False}


def judge_messages(record: dict, cfg: JudgeConfig) -> list[dict[str, str]]:
    criteria = "\n".join(f"- {name}: {text}" for name, text in cfg.criteria.items())
    user = (
        f"Criteria:\n{criteria}\n\n"
        f"Instruction:\n{prompt_view(record)[: cfg.max_chars]}\n\n"
        f"Response:\n{response_view(record)[: cfg.max_chars]}\n\n"
        "Give a one-sentence reason, then a score for each criterion."
    )
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def parse_verdict(text: str, criteria: Sequence[str]) -> dict[str, Any] | None:
    """{"scores": {criterion: 1..5}, "mean": float, "reason": str}, or None for an invalid reply."""
    try:
        obj = json.loads(text)
    except json.JSONDecodeError:
        return None
    if not isinstance(obj, dict):
        return None
    scores = {}
    for name in criteria:
        value = obj.get(name)
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
            return None
        scores[name] = value
    return {"scores": scores, "mean": round(sum(scores.values()) / len(scores), 4), "reason": str(obj.get("reason", ""))[:200]}


def judge_records(records: list[dict], engine: Engine, cfg: JudgeConfig, run_seed: int = 0) -> tuple[list[dict], list[dict]]:
    """Score `records` with `engine`; returns (kept, rejected), each record with meta.judge set.

    Raises RuntimeError if the engine returns the wrong number of results.
    """
    criteria = list(cfg.criteria)
    schema = verdict_schema(criteria)
    kept: list[dict] = []
    rejected: list[dict] = []
    for start in range(0, len(records), cfg.batch_size):
        batch = records[start : start + cfg.batch_size]
        requests = [
            GenerationRequest(
                messages=judge_messages(r, cfg), temperature=cfg.temperature, max_tokens=cfg.max_tokens,
                seed=derive_seed(run_seed, STAGE, r["id"]), json_schema=schema,
            )
            for r in batch
        ]  # fmt: skip
        results = engine.generate(requests)
        if len(results) != len(requests):
            raise RuntimeError(f"judge: engine returned {len(results)} results for {len(requests)} requests")
        for record, result in zip(batch, results):
            text = result.completions[0].text if result.error is None and result.completions else ""
            verdict = parse_verdict(text, criteria)
            meta = dict(record.get("meta") or {})
            if verdict is None:
                meta["judge"] = {"model": engine.model_name, "error": result.error or "invalid verdict", "raw": text[:300]}
                out = {**record, "meta": meta}
                if cfg.on_error == "keep":
                    kept.append(out)
                else:
                    rejected.append(reject(out, "judge_failed", STAGE, error=meta["judge"]["error"]))
                continue
            meta["judge"] = {"model": engine.model_name, **verdict}
            out = {**record, "meta": meta}
            low = verdict["mean"] < cfg.threshold
            weakest = min(verdict["scores"].values())
            if not low and cfg.min_criterion is not None and weakest < cfg.min_criterion:
                low = True
            if low:
                rejected.append(reject(out, "judge_low_score", STAGE, mean=verdict["mean"], min_score=weakest))
            else:
                kept.append(out)
    return kept, rejected


def quality_weights(records: list[dict], floor: float = 0.05) -> list[float]:
    """Per-record weights in (0, 1] from meta.judge.mean (1→floor, 5→1); 1.0 for unjudged records."""
    weights = []
    for record in records:
        mean = ((record.get("meta") or {}).get("judge") or {}).get("mean")
        weights.append(1.0 if mean is None else max(floor, (float(mean) - 1.0) / 4.0))
    return weights
