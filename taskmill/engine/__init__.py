"""One small interface in front of every text-generation backend.

Backends: `vllm_backend.VLLMEngine` (offline `vllm.LLM`, hosted in a Ray actor
by `ray_backend.RayVLLMEngine`), `openai_backend.OpenAIEngine` (any
OpenAI-compatible server), `scripted.ScriptedEngine` (test double for exact
parsing tests).
"""

from taskmill.engine.base import Completion, Engine, GenerationRequest, GenerationResult

__all__ = ["Completion", "Engine", "GenerationRequest", "GenerationResult"]
