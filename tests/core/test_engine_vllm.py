"""The real vLLM engine (Ray actor) on the packaged model."""

import json

import pytest

from taskmill.engine.base import GenerationRequest

pytestmark = pytest.mark.vllm


def test_chat_raw_structured_and_seeded_requests(vllm_engine):
    requests = [
        GenerationRequest(messages=[{"role": "user", "content": "What is the capital of France?"}], temperature=0.0, max_tokens=24),
        GenerationRequest(prompt="The sky is", n=2, temperature=0.8, max_tokens=8, seed=3, logprobs=True),
        GenerationRequest(messages=[{"role": "user", "content": "Is water wet? Answer yes or no."}], choices=["yes", "no"], max_tokens=4),
        GenerationRequest(
            messages=[{"role": "user", "content": "Give me a JSON object with a name."}],
            # maxLength bounds the string: without it this tiny model rambles past max_tokens
            json_schema={"type": "object", "properties": {"name": {"type": "string", "maxLength": 20}},
                         "required": ["name"], "additionalProperties": False},
            temperature=0.0,
            max_tokens=64,
        ),
    ]
    ticks = []
    results = vllm_engine.generate(requests, progress=ticks.append)
    assert len(results) == 4 and sum(ticks) == 4
    assert "Paris" in results[0].texts[0]
    assert results[0].prompt_tokens > 5 and results[0].completions[0].completion_tokens > 0
    assert results[0].completions[0].finish_reason == "stop"
    sampled = results[1].completions
    assert len(sampled) == 2 and all(c.finish_reason == "length" and c.completion_tokens == 8 for c in sampled)
    assert all(c.cumulative_logprob is not None and c.cumulative_logprob < 0 for c in sampled)
    assert results[2].texts[0] in ("yes", "no")
    assert results[3].completions[0].finish_reason == "stop"
    parsed = json.loads(results[3].texts[0])
    assert set(parsed) == {"name"} and isinstance(parsed["name"], str) and len(parsed["name"]) <= 20
    # The same per-request seed gives the same sample.
    again = vllm_engine.generate([requests[1]])
    assert again[0].texts == results[1].texts
    assert vllm_engine.model_name.startswith("HuggingFaceTB/SmolLM2-135M-Instruct")


def test_sampling_kwargs_are_what_records_store():
    request = GenerationRequest(prompt="x", n=2, temperature=0.5, top_p=0.95, max_tokens=256, seed=9, top_k=40)
    assert request.sampling() == {"n": 2, "temperature": 0.5, "top_p": 0.95, "max_tokens": 256, "top_k": 40, "seed": 9}
    with pytest.raises(ValueError, match="exactly one"):
        GenerationRequest(prompt="x", messages=[{"role": "user", "content": "x"}])
