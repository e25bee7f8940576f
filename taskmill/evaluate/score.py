"""Score a model on held-out tasks with each method's own checker.

Both models see the same prompts, built from the held-out records exactly as
the export builds training prompts (`selection.formats.record_to_messages`),
and decode greedily. The answer is the completion's first non-empty line with
surrounding space and a final period removed; the same cut is applied to
every model, then `generators.sql.checker.denotation_match` compares it with
the executed answer (number-aware, order-insensitive; Zero-to-Hero SQL
execution paper's denotation accuracy).

Verifiable chains are graded step by step by the chain checker
(`taskmill.evaluate.chains`). A majority-answer baseline (always the most
frequent training answer) is scored with the same SQL checker, so a gain
from guessing the common answer shows.

Decoding runs on taskmill's vLLM engine (a Ray actor); where vLLM is not
installed it falls back to transformers' `generate` (greedy, batched).
"""

from __future__ import annotations

import importlib.util
from collections import Counter, defaultdict
from typing import Any

from generators.sql.checker import denotation_match
from selection.formats import record_to_messages
from taskmill.evaluate.chains import METHOD as CHAIN_METHOD
from taskmill.evaluate.chains import chain_groups, score_chain_row
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


def start_engine(model_dir: str, cfg: ScoreConfig):
    """A new taskmill vLLM engine (Ray actor) for `model_dir`; the caller shuts it down."""
    from taskmill.engine.ray_backend import RayVLLMEngine
    from taskmill.ray_runtime import ensure_ray

    ensure_ray()
    return RayVLLMEngine(engine_settings(model_dir, cfg))


def generate_vllm(prompts: list[list[dict]], model_dir: str, cfg: ScoreConfig, engine=None) -> list[str]:
    """Greedy completions from taskmill's vLLM engine; a new engine is shut down after use."""
    from taskmill.engine.base import GenerationRequest

    owned = engine is None
    if owned:
        engine = start_engine(model_dir, cfg)
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
    """One row per held-out record, in order, each with `method` and `correct`.

    SQL rows: {id, method, table, shape, difficulty, answer_kind, gold, completion, answer,
    correct, gold_in_completion, backend}; chain rows: see `chains.score_chain_row`.
    model: an HF model dir or `packaged:smollm2`. engine: an already running
    taskmill engine for that model (reused, not shut down); else one is made.
    """
    backend = "vllm" if engine is not None else backend_for(cfg)
    owned = backend == "vllm" and engine is None
    if owned:  # one engine for both families, not one start-up each
        engine = start_engine(model, cfg)
    completions: list[str] = [""] * len(records)
    try:
        # one decoding call per answer length: short SQL answers, long chain transcripts
        for method, max_tokens in (("sql_exec", cfg.max_tokens), (CHAIN_METHOD, cfg.chain_max_tokens)):
            positions = [i for i, r in enumerate(records) if _family(r) == method]
            if not positions:
                continue
            prompts = [prompt_messages(records[i]) for i in positions]
            family_cfg = cfg.model_copy(update={"max_tokens": max_tokens})
            if backend == "vllm":
                texts = generate_vllm(prompts, model, family_cfg, engine)
            else:
                texts = generate_transformers(prompts, model, family_cfg)
            for i, text in zip(positions, texts):
                completions[i] = text
    finally:
        if owned:
            engine.shutdown()
    rows = []
    for record, completion in zip(records, completions):
        row = score_chain_row(record, completion) if _family(record) == CHAIN_METHOD else sql_row(record, completion)
        rows.append({**row, "backend": backend})
    return rows


def _family(record: dict) -> str:
    method = record.get("method")
    if method not in ("sql_exec", CHAIN_METHOD):
        raise ValueError(f"held-out record {record.get('id')!r}: no checker for method {method!r}")
    return method


def sql_row(record: dict, completion: str) -> dict[str, Any]:
    """One scored SQL task: the first answer line checked by denotation match."""
    answer = answer_text(completion)
    meta = record.get("meta") or {}
    return {
        "id": record["id"], "method": "sql_exec", "table": record["source_id"], "shape": meta.get("shape"),
        "difficulty": meta.get("difficulty"), "answer_kind": answer_kind(record), "gold": record["output"],
        "completion": completion, "answer": answer, "correct": denotation_match(answer, record["output"]),
        "gold_in_completion": gold_in_text(record["output"], completion),
    }  # fmt: skip


def answer_kind(record: dict) -> str:
    """`count` (an integer from count(...)), `number`, `text` or `list` (several values)."""
    answers = (record.get("meta") or {}).get("answers") or [record["output"]]
    if len(answers) > 1:
        return "list"
    sql = str((record.get("meta") or {}).get("executable_sql", "")).lower()
    if "count(" in sql and str(answers[0]).strip().isdigit():
        return "count"
    return "number" if _is_number(str(answers[0]).strip()) else "text"


def majority_answer(train_rows: list[dict]) -> str | None:
    """The most frequent assistant answer among training rows (ties: the first seen); None when empty."""
    counts: Counter[str] = Counter()
    for row in train_rows:
        turns = row["completion"] if "completion" in row else row["messages"][-1:]
        text = turns[-1].get("content") if turns and isinstance(turns[-1], dict) else None
        if isinstance(text, str) and text.strip():
            counts[text.strip()] += 1
    return counts.most_common(1)[0][0] if counts else None


def score_constant(records: list[dict], answer: str) -> list[dict]:
    """Rows as `score_model` gives them for a model that always answers `answer` (SQL records only)."""
    return [{**sql_row(r, answer), "backend": "constant"} for r in records if r.get("method") == "sql_exec"]


def gold_in_text(gold: str, completion: str) -> bool:
    """Diagnostic, not a score: every gold item occurs somewhere in the completion (case-insensitive).

    Tells a format failure (right value, buried in prose) from a wrong value.
    """
    text = completion.lower()
    return all(item.strip().lower() in text for item in gold.split(","))


GROUP_ORDER = {"all": 0, "family": 1, "difficulty": 2, "answer_kind": 3, "chain_length": 4, "step": 5}


def accuracy_table(scored: dict[str, list[dict]]) -> list[dict[str, Any]]:
    """Accuracy per model and group; accuracy in percent.

    SQL: `all` (value sql_exec), per SQL shape (`family`), per `difficulty` (clause count),
    per `answer_kind`. Chains: `all` (value sifo_chain: last step right), per `chain_length`,
    per `step` index (step accuracy over the chains that have that step).
    scored: model label → rows from `score_model` (or `score_constant`).
    Returns rows {model, group, value, n, correct, accuracy}.
    """
    out = []
    for label, rows in scored.items():
        groups: dict[tuple[str, str], list[bool]] = defaultdict(list)
        for row in rows:
            if row["method"] == CHAIN_METHOD:
                entries = chain_groups(row)
            else:
                entries = [("all", "sql_exec", row["correct"]), ("family", str(row["shape"]), row["correct"]),
                           ("difficulty", str(row["difficulty"]), row["correct"]),
                           ("answer_kind", str(row["answer_kind"]), row["correct"])]  # fmt: skip
            for group, value, ok in entries:
                groups[(group, value)].append(ok)
        for (group, value), hits in sorted(groups.items(), key=lambda kv: (GROUP_ORDER[kv[0][0]], _natural(kv[0][1]))):
            out.append(
                {"model": label, "group": group, "value": value, "n": len(hits), "correct": sum(hits),
                 "accuracy": round(100 * sum(hits) / len(hits), 2)}
            )  # fmt: skip
    return out


def _natural(value: str) -> tuple[int, Any]:
    return (0, int(value)) if value.isdigit() else (1, value)
