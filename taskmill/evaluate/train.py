"""Supervised fine-tuning of a small model on an export, with TRL's SFTTrainer.

Nothing here is a training loop of ours: rows go to `trl.SFTTrainer` as
conversational prompt/completion pairs (TRL's default for that format is loss
on the completion tokens only), full fine-tune or LoRA through `peft`. The
result is saved as a plain Hugging Face model directory (LoRA weights merged),
so vLLM or transformers load it like any other model.

Needs the `eval` extra: `pip install -e '.[eval]'` (trl, peft).
"""

from __future__ import annotations

import os
import shutil
import time
from typing import Any

from taskmill.evaluate.config import TrainConfig


def to_prompt_completion(row: dict) -> dict:
    """messages → {prompt: [all but the last turn], completion: [last assistant turn]}; p/c rows pass through."""
    if "prompt" in row and "completion" in row:
        return {"prompt": list(row["prompt"]), "completion": list(row["completion"])}
    messages = row["messages"]
    if not messages or messages[-1].get("role") != "assistant":
        raise ValueError(f"training row {row.get('id')!r}: the last message must be the assistant's answer")
    return {"prompt": list(messages[:-1]), "completion": [messages[-1]]}


def use_cuda(device: str) -> bool:
    import torch

    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("train.device is cuda but torch sees no GPU")
    return device == "cuda" or (device == "auto" and torch.cuda.is_available())


def fine_tune(rows: list[dict], out_dir: str, cfg: TrainConfig) -> dict[str, Any]:
    """Fine-tune `cfg.base_model` on `rows` and save the result to `out_dir`.

    rows: trainer-format rows (`messages`, or `prompt` + `completion` chat lists).
    Returns {model_dir, records, tokens (prompt + completion tokens seen per epoch),
    steps, epochs, train_loss, seconds, device, method, seed}.
    Raises ImportError without trl/peft and ValueError on an empty training set.
    """
    try:
        from trl import SFTConfig, SFTTrainer
    except ImportError as err:  # pragma: no cover - depends on the install
        raise ImportError("taskmill evaluate needs the eval extra: pip install -e '.[eval]' (trl, peft)") from err
    import datasets
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from taskmill.models import resolve_model

    if not rows:
        raise ValueError("no training rows left after the held-out split and decontamination")
    base_dir = resolve_model(cfg.base_model)
    cuda = use_cuda(cfg.device)
    dataset = datasets.Dataset.from_list([to_prompt_completion(r) for r in rows])
    tokenizer = AutoTokenizer.from_pretrained(base_dir)
    model = AutoModelForCausalLM.from_pretrained(base_dir, dtype="auto")
    peft_config = None
    if cfg.method == "lora":
        from peft import LoraConfig

        peft_config = LoraConfig(
            r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=0.0, target_modules="all-linear", task_type="CAUSAL_LM"
        )
    work_dir = out_dir + ".trainer"
    args = SFTConfig(
        output_dir=work_dir,
        num_train_epochs=cfg.epochs,
        max_steps=cfg.max_steps,
        per_device_train_batch_size=cfg.batch_size,
        learning_rate=cfg.learning_rate,
        lr_scheduler_type=cfg.lr_scheduler,
        warmup_steps=cfg.warmup_steps,
        max_length=cfg.max_length,
        logging_steps=5,
        save_strategy="no",
        report_to=[],
        seed=cfg.seed,
        data_seed=cfg.seed,
        use_cpu=not cuda,
        bf16=cuda,
        dataloader_num_workers=0,
        disable_tqdm=True,
    )
    trainer = SFTTrainer(model=model, args=args, train_dataset=dataset, processing_class=tokenizer, peft_config=peft_config)
    tokens = sum(len(ids) for ids in trainer.train_dataset["input_ids"])
    start = time.perf_counter()
    result = trainer.train()
    seconds = time.perf_counter() - start
    tuned = trainer.model
    if cfg.method == "lora":
        tuned = tuned.merge_and_unload()  # a plain HF dir: vLLM loads it without LoRA support
    tuned.generation_config.do_sample = False
    tmp = out_dir + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tuned.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    shutil.rmtree(out_dir, ignore_errors=True)
    os.replace(tmp, out_dir)
    shutil.rmtree(work_dir, ignore_errors=True)
    return {
        "model_dir": out_dir,
        "base_model": cfg.base_model,
        "records": len(dataset),
        "tokens": tokens,
        "steps": int(result.global_step),
        "epochs": round(float(result.metrics.get("epoch", cfg.epochs)), 3),
        "train_loss": round(float(result.training_loss), 4),
        "seconds": round(seconds, 1),
        "device": "cuda" if cuda else "cpu",
        "method": cfg.method,
        "learning_rate": cfg.learning_rate,
        "batch_size": cfg.batch_size,
        "seed": cfg.seed,
    }
