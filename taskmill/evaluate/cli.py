"""`taskmill evaluate RUN_DIR`: the closed loop from the command line.

Settings come from an optional YAML file (`--config`, an `EvaluateConfig`)
and the flags below, flags winning. Exit code 2 on a bad setting or run dir.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

# flag dest → path in EvaluateConfig
_FLAGS = {
    "heldout_tables": ("heldout", "tables"),
    "heldout_tasks": ("heldout", "tasks"),
    "generator": ("heldout", "generator"),
    "max_answer_share": ("heldout", "max_answer_share"),
    "heldout_documents": ("heldout", "documents"),
    "heldout_chains": ("heldout", "chains"),
    "chain_generator": ("heldout", "chain_generator"),
    "base_model": ("train", "base_model"),
    "method": ("train", "method"),
    "epochs": ("train", "epochs"),
    "max_steps": ("train", "max_steps"),
    "learning_rate": ("train", "learning_rate"),
    "batch_size": ("train", "batch_size"),
    "train_seed": ("train", "seed"),
    "device": ("train", "device"),
    "backend": ("score", "backend"),
    "tuned_backend": ("score", "tuned_backend"),
    "training_file": ("training_file",),
    "out_dir": ("out_dir",),
    "seed": ("seed",),
}


def add_evaluate_parser(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "evaluate",
        help="fine-tune a small model on a run's export and score base vs tuned on held-out SQL tables and chain documents",
        description="train (TRL SFT) → evaluate (SQL denotation match on held-out tables, chain step accuracy on "
        "held-out documents) → report (artifact + dataset card)",
    )
    p.add_argument("run_dir", help="a finished run directory (has config.yaml and export/)")
    p.add_argument("--config", help="YAML with heldout/train/score settings (EvaluateConfig)")
    p.add_argument("--heldout-tables", type=lambda s: [t for t in s.split(",") if t], help="comma-separated table ids")
    p.add_argument("--heldout-tasks", type=int, help="held-out SQL tasks (default 200)")
    p.add_argument("--generator", help="the sql_exec stage whose settings make the held-out tasks")
    p.add_argument("--max-answer-share", type=float, help="no held-out SQL answer above this share of the tasks (default 0.05)")
    p.add_argument("--heldout-documents", type=lambda s: [d for d in s.split(",") if d], help="comma-separated document ids (chains)")
    p.add_argument("--heldout-chains", type=int, help="held-out verifiable chains (default 100; needs a sifo_chain stage)")
    p.add_argument("--chain-generator", help="the sifo_chain stage whose settings make the held-out chains")
    p.add_argument("--base-model", help="default packaged:smollm2")
    p.add_argument("--method", choices=["full", "lora"], help="full fine-tune or LoRA (peft, merged before saving)")
    p.add_argument("--epochs", type=float, help="training epochs over the training file")
    p.add_argument("--max-steps", type=int, help="stop training after this many optimizer steps (overrides --epochs)")
    p.add_argument("--learning-rate", type=float, help="peak learning rate of the SFT run")
    p.add_argument("--batch-size", type=int, help="training examples per optimizer step")
    p.add_argument("--train-seed", type=int, help="seed of the training run (shuffling, initialization of LoRA)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], help="where to train; auto: cuda when torch sees a GPU")
    p.add_argument("--backend", choices=["auto", "vllm", "transformers"], help="decoding for scoring")
    p.add_argument("--tuned-backend", choices=["vllm", "transformers"], help="decoding for the tuned model (default: as --backend)")
    p.add_argument("--training-file", help="default: export/prompt_completion.jsonl, else export/messages.jsonl")
    p.add_argument("--out-dir", help="default: RUN_DIR/eval")
    p.add_argument("--seed", type=int, help="seed of the held-out task sample")
    return p


def settings_from_args(args: argparse.Namespace) -> dict[str, Any]:
    import yaml

    data: dict[str, Any] = {}
    if args.config:
        with open(args.config, encoding="utf-8") as handle:
            data = yaml.safe_load(handle) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{args.config}: the evaluate config must be a YAML mapping")
    for dest, path in _FLAGS.items():
        value = getattr(args, dest, None)
        if value is None:
            continue
        node = data
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = value
    return data


def run_evaluate(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from taskmill.evaluate.config import EvaluateConfig

    try:
        settings = settings_from_args(args)
        EvaluateConfig.model_validate(settings)  # errors before Prefect starts
        if not os.path.isdir(args.run_dir):
            raise FileNotFoundError(f"{args.run_dir}: no such run directory")
    except ValidationError as exc:
        lines = [f"  {'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
        print("invalid evaluate settings:\n" + "\n".join(lines), file=sys.stderr)
        return 2
    except (OSError, ValueError) as exc:
        print(str(exc), file=sys.stderr)
        return 2
    from taskmill.evaluate.loop import evaluate_flow

    try:
        report = evaluate_flow(run_dir=args.run_dir, config=settings)
    except (FileNotFoundError, ValueError, ImportError) as exc:  # no export, no SQL generator, no eval extra
        print(str(exc), file=sys.stderr)
        return 2
    print(json.dumps({"report": report["paths"], "gains": report["gains"], "majority": report["majority"], "models": report["models"]}, indent=2))
    return 0
