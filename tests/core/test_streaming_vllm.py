"""The streaming path (AsyncLLM actor) on the real vLLM engine: same records as the batch path (`vllm.LLM`), refusals become rejects."""

from __future__ import annotations

import asyncio
import random

import pytest

from flows.generate import stream_shards
from generators.bonito import BonitoConfig, BonitoGenerator
from generators.self_guide import SelfGuideConfig, SelfGuideGenerator
from taskmill.engine.base import GenerationRequest
from taskmill.engine.steps import StreamSteps
from taskmill.engine.streaming import StreamingEngine
from taskmill.records import from_table, to_table
from tests.core.streaming_helpers import sentiment_tasks

pytestmark = pytest.mark.vllm

DOCS = [
    {"id": "d1", "text": "The ferry leaves the harbour at seven and reaches the island an hour later."},
    {"id": "d2", "text": "Oak trees drop their acorns in autumn; squirrels bury many of them for winter."},
    {"id": "d3", "text": "The bakery sells rye bread on Mondays and sourdough on every other day."},
]


def _generators() -> list:
    bonito = BonitoGenerator(
        BonitoConfig.model_validate({"method": "bonito", "shard_size": 2, "max_tokens": 40, "tasks": {"qa": None}}), 4
    )
    self_guide = SelfGuideGenerator(
        SelfGuideConfig.model_validate(
            {"method": "self_guide", "tasks": sentiment_tasks(2), "rounds": 2, "prompts_per_round": 2,
             "inputs": {"max_tokens": 24}, "annotation": {"n_annot": 2, "best_of": 3, "max_tokens": 6}}  # fmt: skip
        ),
        4,
    )
    return [(bonito, bonito.plan_shards(DOCS)), (self_guide, self_guide.plan_shards([]))]


def _rows(out) -> list[dict]:
    return from_table(to_table(out.kept + out.rejects + out.intermediate))


KV_SHARE = 0.1  # the batch actor's share of RAM (vLLM-cpu: worker RSS + KV cache; 0.05 leaves no room for KV)


class _BatchActor:
    """The batch path: `VLLMEngine` (one `vllm.LLM.generate` call per batch) in its own Ray actor.

    vLLM forks engine processes, so `vllm.LLM` runs in an actor, as the flow's engines do;
    same settings (`llm_kwargs`: fp32 and chunked prefill off on CPU) as the AsyncLLM actor,
    except a smaller memory share (`KV_SHARE` of RAM, not 0.2): a handful of short requests never
    fill it, and the shared test machine cannot hold two 0.2 shares. The cache size sets how
    many sequences fit, not what a sequence computes.
    """

    def __init__(self, settings, tokenizer):
        import ray

        from taskmill.engine.vllm_backend import VLLMEngine
        from taskmill.models import display_name

        small = settings.model_copy(update={"gpu_memory_utilization": KV_SHARE})
        self.actor = ray.remote(num_cpus=settings.actor_num_cpus)(VLLMEngine).remote(small)
        self.kwargs = ray.get(self.actor.__ray_call__.remote(lambda engine: engine.kwargs))
        self.model_name, self.max_model_len, self.tokenizer = display_name(settings.name), settings.max_model_len, tokenizer

    def generate(self, requests, progress=None):
        import ray

        return ray.get(self.actor.generate.remote(list(requests)))

    def close(self) -> None:
        import ray

        ray.kill(self.actor)


@pytest.fixture(scope="module")
def batch_engine(vllm_engine, engine_settings):
    engine = _BatchActor(engine_settings, vllm_engine.tokenizer)
    yield engine
    engine.close()


def _sampled(result) -> list[tuple]:
    return [(c.text, c.completion_tokens, c.finish_reason) for c in result.completions]


@pytest.mark.slow
def test_llm_generate_and_async_llm_give_identical_records(vllm_engine, batch_engine):
    """The batch path (`vllm.LLM.generate`) and the streaming path (AsyncLLM actor), same seeds: same records."""
    same = {key: value for key, value in batch_engine.kwargs.items() if key != "gpu_memory_utilization"}
    assert same == {key: value for key, value in vllm_engine.llm_kwargs.items() if key != "gpu_memory_utilization"}
    requests = [
        GenerationRequest(prompt="The capital of France is", max_tokens=12, temperature=0.8, seed=11),
        GenerationRequest(messages=[{"role": "user", "content": "Name three colours."}], max_tokens=16, temperature=1.0, n=3, seed=12),
        GenerationRequest(prompt="def add(a, b):", max_tokens=12, temperature=0.0),
        GenerationRequest(prompt="Once upon a time", max_tokens=10, temperature=0.9, top_p=0.9, top_k=20, seed=13, logprobs=True),
    ]
    batch = batch_engine.generate(requests)
    stream = StreamingEngine(vllm_engine, max_in_flight=8)
    streamed = asyncio.run(StreamSteps(stream).run(requests))
    for request, one, other in zip(requests, batch, streamed):
        assert one.error is None and other.error is None
        assert _sampled(one) == _sampled(other), request
        assert one.prompt_tokens == other.prompt_tokens and one.rendered_prompt == other.rendered_prompt
    assert len({c.text for c in batch[1].completions}) > 1, "n=3 samples differ: the seed is per request, not per sample"

    generators = _generators()
    batched = [[gen.run_shard(shard, batch_engine) for shard in shards] for gen, shards in generators]
    outputs: list[dict] = [{}, {}]

    async def both() -> None:
        await asyncio.gather(*(
            stream_shards(gen, shards, list(range(len(shards))), stream, lambda i, out, _s, k=k: outputs[k].__setitem__(i, out))
            for k, (gen, shards) in enumerate(generators)
        ))  # fmt: skip

    asyncio.run(both())
    for k, per_shard in enumerate(batched):
        for index, out in enumerate(per_shard):
            assert _rows(outputs[k][index]) == _rows(out), (k, index)
    assert sum(len(out.kept) for per_shard in batched for out in per_shard) > 0
    assert stream.meter.snapshot().peak_in_flight > 1


def test_refused_requests_are_results_and_the_rest_go_on(vllm_engine):
    requests = [
        GenerationRequest(prompt="One, two, three,", max_tokens=4, temperature=0.0),
        GenerationRequest(prompt="word " * 3000, max_tokens=4),  # over the 2048-token context
        GenerationRequest(prompt="Name:", max_tokens=4, json_schema={"type": "no-such-type"}),
    ]
    good, long, bad = vllm_engine.generate(requests)
    assert good.error is None and good.completions[0].completion_tokens > 0
    assert long.error_code == "prompt_too_long" and "2048" in long.error and long.completions == []
    assert bad.error_code == "engine_error" and bad.error


def test_bonito_truncates_long_documents_to_the_token_budget(vllm_engine, tmp_path):
    rng = random.Random(0)
    binary = bytes(rng.randrange(256) for _ in range(10 * 1024 * 1024))
    # 10 MB of binary-ish text (a text source would skip the file as invalid_utf8; a user's decoder may not)
    blob_text = binary.decode("utf-8", errors="replace")
    cjk = {"id": "cjk", "text": "".join(chr(0x4E00 + rng.randrange(20000)) for _ in range(4000))}
    docs = DOCS[:2] + [cjk, {"id": "blob", "text": blob_text}]
    assert len(docs[3]["text"]) > 5_000_000
    gen = BonitoGenerator(BonitoConfig.model_validate({"method": "bonito", "max_tokens": 32, "tasks": {"qa": None}}), 1)
    stream = StreamingEngine(vllm_engine, max_in_flight=8)
    outputs: dict = {}
    shards = gen.plan_shards(docs)
    asyncio.run(stream_shards(gen, shards, [0], stream, lambda i, out, _s: outputs.__setitem__(i, out)))
    records = {r["source_id"]: r for r in outputs[0].kept + outputs[0].rejects}
    assert set(records) == {"d1", "d2", "cjk", "blob"}, "every document gives a record or a reject with its reason"
    for doc_id in ("cjk", "blob"):
        rec = records[doc_id]
        assert rec["meta"]["truncated"]["kept_tokens"] <= 2048 - 32
        assert rec["reject_reason"] not in ("prompt_too_long", "engine_error"), rec["meta"].get("curation")
        assert 2048 - 32 - 64 <= rec["prompt_tokens"] <= 2048 - 32, "the prompt is cut to the budget, not far below"
    for doc_id in ("d1", "d2"):
        assert "truncated" not in records[doc_id]["meta"] and records[doc_id]["completion_tokens"] > 0
