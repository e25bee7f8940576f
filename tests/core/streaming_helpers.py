"""A scripted engine that answers Bonito (prompted JSON) and Self-Guide prompts, for streaming tests."""

from __future__ import annotations

import hashlib
import json
import random

from taskmill.engine.base import GenerationRequest
from taskmill.engine.scripted import ScriptedEngine

LABELS = ["positive", "negative", "neutral"]


def _digest(request: GenerationRequest, i: int) -> int:
    return int(hashlib.sha256(f"{request.prompt_key()}|{request.seed}|{i}".encode()).hexdigest()[:8], 16)


def answer(request: GenerationRequest, i: int) -> str:
    """Deterministic in (prompt, seed, sample index): the same request always gets the same text."""
    h = _digest(request, i)
    if request.messages is not None:
        return json.dumps({"instruction": f"Question {h % 97} about {{{{context}}}}?", "response": f"Answer {h % 89}"})
    if request.prompt.endswith("[input]=\n"):
        return f'"review number {h % 5000} of a product"'
    return LABELS[h % 2] if i % 3 else LABELS[0]


def scripted(seed: int, low: float = 0.0, high: float = 0.02, fail_after: int | None = None) -> ScriptedEngine:
    """Random per-request delays (so results arrive out of order); optionally the engine dies (every answer
    raises) once `fail_after` Bonito (chat) requests were answered. Counting Bonito's requests only makes
    the failure land mid-Bonito-stage however the thread scheduler interleaves the other generators."""
    rng = random.Random(seed)
    answered = [0]

    def script(request: GenerationRequest, i: int) -> str:
        if i == 0 and request.messages is not None:
            answered[0] += 1
        if fail_after is not None and answered[0] > fail_after:
            raise RuntimeError("scripted engine died")
        return answer(request, i)

    return ScriptedEngine(script, model_name="scripted-stream", delay=lambda _r: rng.uniform(low, high))


def sentiment_tasks(count: int) -> list[dict]:
    examples = [
        {"input": "The blender is loud but crushes ice in seconds.", "output": "positive"},
        {"input": "The zip broke after one week of use.", "output": "negative"},
        {"input": "It is a grey box with two buttons.", "output": "neutral"},
    ]
    return [
        {"name": f"sentiment_{k}", "instruction": f"Give the sentiment of review kind {k}.", "labels": LABELS, "examples": examples}
        for k in range(count)
    ]


DOCS = [
    f"Document {k}: the river town holds a market every {day}, where farmers sell apples, cheese and bread."
    for k, day in enumerate(["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"] * 2)
]
