"""One small interface in front of every text-generation backend.

Backends: `ray_backend.RayVLLMEngine` (vLLM's async engine,
`vllm_async.AsyncVLLMEngine`, in Ray actors; what runs use),
`vllm_backend.VLLMEngine` (offline `vllm.LLM` in this process; benchmarks),
`openai_backend.OpenAIEngine` (any OpenAI-compatible server),
`scripted.ScriptedEngine` (test double for exact parsing and ordering tests).

Two ways in: the batch `Engine.generate(requests)` (results in request
order), and streaming `submit(request) -> Future` behind the bounded,
thread-safe dispatcher `streaming.StreamingEngine`; generators reach either
through `steps` (the step API, see `generators.base`).
"""

from taskmill.engine.base import Completion, Engine, GenerationRequest, GenerationResult

__all__ = ["Completion", "Engine", "GenerationRequest", "GenerationResult"]
