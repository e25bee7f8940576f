"""The streaming vLLM engine: `vllm.v1.engine.async_llm.AsyncLLM` behind one-request calls.

Each `generate` call adds one request to vLLM's continuous batch and returns
its result as soon as that request finishes, whatever else is running, so a
caller that keeps enough requests in flight keeps the scheduler full. It
runs inside a Ray async actor (`ray_backend`); the `vllm.LLM` kwargs
(`vllm_backend.llm_kwargs`, with the CPU quirks: fp32, chunked prefill off for
seeded requests, small memory share) are reused unchanged as engine args, so
both paths load the same engine.

A request vLLM refuses (prompt longer than the context, any per-request
validation error) comes back as a result with `error` set; only a dead
engine raises.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

from taskmill.engine.base import GenerationRequest, GenerationResult, failed
from taskmill.engine.busy import BusyMeter
from taskmill.engine.settings import EngineSettings
from taskmill.engine.vllm_backend import llm_kwargs, render_prompt, sampling_params, to_result
from taskmill.models import display_name


class AsyncVLLMEngine:
    """Must be built and used inside a running asyncio loop (vLLM starts its output task there)."""

    def __init__(self, settings: EngineSettings):
        os.environ.setdefault("VLLM_CONFIGURE_LOGGING", "1")
        from vllm.engine.arg_utils import AsyncEngineArgs
        from vllm.v1.engine.async_llm import AsyncLLM

        self.settings = settings
        self.model_name = display_name(settings.name)
        self.kwargs = llm_kwargs(settings)
        args = AsyncEngineArgs(**self.kwargs, disable_log_stats=True)
        self.llm = AsyncLLM.from_engine_args(args)
        self.tokenizer = self.llm.get_tokenizer()
        self.meter = BusyMeter()

    async def generate(self, request: GenerationRequest) -> GenerationResult:
        from vllm.sampling_params import RequestOutputKind
        from vllm.v1.engine.exceptions import EngineDeadError

        prompt = render_prompt(self.tokenizer, request)
        params = sampling_params(request)
        params.output_kind = RequestOutputKind.FINAL_ONLY  # one message per request, not per token
        final: Any = None
        self.meter.begin()
        try:
            async for output in self.llm.generate({"prompt": prompt}, params, uuid.uuid4().hex):
                final = output
        except EngineDeadError:
            raise
        except Exception as exc:  # a refusal of this request only; the engine goes on
            cause = exc.__cause__ or exc
            return failed(f"{type(cause).__name__}: {cause}")
        finally:
            self.meter.end()
        if final is None:
            return failed("engine returned no output")
        return to_result(final, prompt)

    def shutdown(self) -> None:
        self.llm.shutdown()
