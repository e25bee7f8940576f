"""A scripted engine: a test double for exact parsing and filter tests.

It records every request it receives (so tests can assert the exact sampling
kwargs) and answers from a script: a function of the request and the index of
the completion, or a list of texts consumed in order. It is never a
substitute for the integration tests that run the real vLLM engine.
"""

from __future__ import annotations

from typing import Callable, Iterable, Sequence

from taskmill.engine.base import Completion, GenerationRequest, GenerationResult, ProgressFn

Script = Callable[[GenerationRequest, int], str]


class ScriptedEngine:
    def __init__(self, script: Script | Iterable[str], model_name: str = "scripted"):
        self.model_name = model_name
        self.requests: list[GenerationRequest] = []
        if callable(script):
            self._script = script
        else:
            queue = list(script)

            def from_queue(_request: GenerationRequest, _i: int) -> str:
                if not queue:
                    raise AssertionError("ScriptedEngine: script ran out of answers")
                return queue.pop(0)

            self._script = from_queue

    def generate(self, requests: Sequence[GenerationRequest], progress: ProgressFn | None = None) -> list[GenerationResult]:
        results = []
        for request in requests:
            self.requests.append(request)
            completions = []
            for i in range(request.n):
                text = self._script(request, i)
                completions.append(Completion(text=text, finish_reason="stop", completion_tokens=len(text.split())))
            results.append(GenerationResult(completions=completions, prompt_tokens=len(request.prompt_key().split())))
            if progress:
                progress(1)
        return results
