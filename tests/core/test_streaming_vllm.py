"""The streaming path on the real vLLM engine: same records as the batch path, refusals become rejects."""

from __future__ import annotations

import asyncio
import random

import pytest

from flows.generate import stream_shards
from generators.bonito import BonitoConfig, BonitoGenerator
from generators.self_guide import SelfGuideConfig, SelfGuideGenerator
from taskmill.engine.base import GenerationRequest
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


@pytest.mark.slow
def test_streaming_and_batch_paths_give_identical_records(vllm_engine):
    generators = _generators()
    batch = [[gen.run_shard(shard, vllm_engine) for shard in shards] for gen, shards in generators]

    stream = StreamingEngine(vllm_engine, max_in_flight=8)
    streamed: list[dict] = [{}, {}]

    async def both() -> None:
        await asyncio.gather(*(
            stream_shards(gen, shards, list(range(len(shards))), stream, lambda i, out, _s, k=k: streamed[k].__setitem__(i, out))
            for k, (gen, shards) in enumerate(generators)
        ))  # fmt: skip

    asyncio.run(both())
    for k, outputs in enumerate(batch):
        for index, out in enumerate(outputs):
            assert _rows(streamed[k][index]) == _rows(out), (k, index)
    assert sum(len(out.kept) + len(out.rejects) for outputs in batch for out in outputs) > 0
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
