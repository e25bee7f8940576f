"""Score a model on held-out SQL tasks with the method's own checker.

Both models see the same prompts, built from the held-out records exactly as
the export builds training prompts (`selection.formats.record_to_messages`),
and decode greedily. The answer is the completion's first non-empty line with
surrounding space and a final period removed; the same cut is applied to
every model, then `generators.sql.checker.denotation_match` compares it with
the executed answer (number-aware, order-insensitive; Zero-to-Hero SQL
execution paper's denotation accuracy).

Decoding runs on taskmill's vLLM engine (a Ray actor); where vLLM is not
installed it falls back to transformers' `generate` (greedy, batched).
"""

from __future__ import annotations

import importlib.util
from collections import defaultdict
from typing import Any

from generators.sql.checker import denotation_match
from selection.formats import record_to_messages
from taskmill.evaluate.config import ScoreConfig


def prompt_messages(record: dict) -> list[dict]:
    """The chat turns a trainer sees before the answer, for one taskmill record."""
    return record_to_messages(record)["messages"][:-1]


def answer_text(completion: str) -> str:
    """First non-empty line, stripped, without a closing period (same cut for every model)."""
    for line in completion.splitlines():
        line = line.strip()
        if line:
            return line[:-1].rstrip() if line.endswith(".") and not _is_number(line) else line
    return ""


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def backend_for(cfg: ScoreConfig) -> str:
    if cfg.backend != "auto":
        return cfg.backend
    return "vllm" if importlib.util.find_spec("vllm") is not None else "transformers"


def engine_settings(model: str, cfg: ScoreConfig):
    """The vLLM engine settings for scoring `model`: the GPU when torch sees one."""
    import torch

    from taskmill.engine.settings import EngineSettings

    gpus = 1.0 if torch.cuda.is_available() else 0.0
    return EngineSettings(
        name=model, max_model_len=cfg.max_model_len, actor_num_gpus=gpus, gpu_memory_utilization=cfg.gpu_memory_utilization
    )


def generate_vllm(prompts: list[list[dict]], model_dir: str, cfg: ScoreConfig, engine=None) -> list[str]:
    """Greedy completions from taskmill's vLLM engine; a new engine is shut down after use."""
    from taskmill.engine.base import GenerationRequest

    owned = engine is None
    if owned:
        from taskmill.engine.ray_backend import RayVLLMEngine
        from taskmill.ray_runtime import ensure_ray

        ensure_ray()
        engine = RayVLLMEngine(engine_settings(model_dir, cfg))
    try:
        requests = [GenerationRequest(messages=p, temperature=0.0, max_tokens=cfg.max_tokens) for p in prompts]
        results = engine.generate(requests)
    finally:
        if owned:
            engine.shutdown()
    return [r.texts[0] if r.completions else "" for r in results]


def generate_transformers(prompts: list[list[dict]], model_dir: str, cfg: ScoreConfig) -> list[str]:
    """Greedy completions with transformers' `generate`, batched with left padding."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from taskmill.models import resolve_model

    path = resolve_model(model_dir)
    tokenizer = AutoTokenizer.from_pretrained(path, padding_side="left")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = AutoModelForCausalLM.from_pretrained(path, dtype="auto").to(device).eval()
    texts = []
    for start in range(0, len(prompts), cfg.batch_size):
        batch = [tokenizer.apply_chat_template(p, tokenize=False, add_generation_prompt=True) for p in prompts[start : start + cfg.batch_size]]
        encoded = tokenizer(batch, return_tensors="pt", padding=True, add_special_tokens=False).to(device)
        with torch.no_grad():
            output = model.generate(**encoded, max_new_tokens=cfg.max_tokens, do_sample=False, pad_token_id=tokenizer.pad_token_id)
        width = encoded["input_ids"].shape[1]
        texts += tokenizer.batch_decode(output[:, width:], skip_special_tokens=True)
    return texts


def score_model(records: list[dict], model: str, cfg: ScoreConfig, engine=None) -> list[dict]:
    """One row per held-out record: {id, shape, difficulty, table, gold, completion, answer, correct}.

    model: an HF model dir or `packaged:smollm2`. engine: an already running
    taskmill engine for that model (reused, not shut down); else one is made.
    """
    prompts = [prompt_messages(r) for r in records]
    backend = "vllm" if engine is not None else backend_for(cfg)
    if backend == "vllm":
        completions = generate_vllm(prompts, model, cfg, engine)
    else:
        completions = generate_transformers(prompts, model, cfg)
    rows = []
    for record, completion in zip(records, completions):
        answer = answer_text(completion)
        meta = record.get("meta") or {}
        rows.append(
            {
                "id": record["id"], "table": record["source_id"], "shape": meta.get("shape"),
                "difficulty": meta.get("difficulty"), "gold": record["output"], "completion": completion,
                "answer": answer, "correct": denotation_match(answer, record["output"]), "backend": backend,
                "gold_in_completion": gold_in_text(record["output"], completion),
            }
        )  # fmt: skip
    return rows


def gold_in_text(gold: str, completion: str) -> bool:
    """Diagnostic, not a score: every gold item occurs somewhere in the completion (case-insensitive).

    Tells a format failure (right value, buried in prose) from a wrong value.
    """
    text = completion.lower()
    return all(item.strip().lower() in text for item in gold.split(","))


def accuracy_table(scored: dict[str, list[dict]]) -> list[dict[str, Any]]:
    """Accuracy per model for all tasks, per SQL shape (task family) and per difficulty (clause count).

    scored: model label → rows from `score_model` on the same records.
    Returns rows {model, group, value, n, correct, accuracy (percent)}.
    """
    out = []
    for label, rows in scored.items():
        groups: dict[tuple[str, str], list[bool]] = defaultdict(list)
        for row in rows:
            groups[("all", "sql_exec")].append(row["correct"])
            groups[("family", str(row["shape"]))].append(row["correct"])
            groups[("difficulty", str(row["difficulty"]))].append(row["correct"])
        order = {"all": 0, "family": 1, "difficulty": 2}
        for (group, value), hits in sorted(groups.items(), key=lambda kv: (order[kv[0][0]], _natural(kv[0][1]))):
            out.append(
                {"model": label, "group": group, "value": value, "n": len(hits), "correct": sum(hits),
                 "accuracy": round(100 * sum(hits) / len(hits), 2)}
            )  # fmt: skip
    return out


def _natural(value: str) -> tuple[int, Any]:
    return (0, int(value)) if value.isdigit() else (1, value)
