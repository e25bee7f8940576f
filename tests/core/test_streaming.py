"""Streaming generation with the scripted engine: order independence, resume, concurrency, in-flight depth."""

from __future__ import annotations

import asyncio
import json
import os

import pytest

from flows.generate import stream_shards
from generators.self_guide import SelfGuideConfig, SelfGuideGenerator
from taskmill.engine.factory import install_engine, uninstall_engine
from taskmill.engine.settings import EngineSettings
from taskmill.engine.streaming import StreamingEngine
from taskmill.records import from_table, to_table
from tests.core.streaming_helpers import DOCS, scripted, sentiment_tasks

ENGINE = {"name": "scripted-stream", "max_model_len": 2048, "max_in_flight": 6}
EXPORTS = ("records.parquet", "messages.jsonl", "alpaca.jsonl")


def _config(root: str) -> dict:
    return {
        "name": "stream",
        "run_root": root,
        "seed": 11,
        "engine": ENGINE,
        "sources": [{"kind": "inline", "texts": DOCS}],
        "generators": [
            {"method": "bonito", "prompted_format": "json", "shard_size": 2, "tasks": {"qa": None, "ynqa": 6}},
            {"method": "self_guide", "tasks": sentiment_tasks(3), "rounds": 2, "prompts_per_round": 3,
             "annotation": {"n_annot": 3, "best_of": None, "max_tokens": 16}},
            {"method": "sql_exec", "tasks_per_table": 2, "shard_size": 2},
        ],  # fmt: skip
        "curation": {},
        "selection": {"method": "none"},
        "export": {"formats": ["messages", "alpaca"], "hf_dataset": False},
    }


def _run(root: str, engine) -> dict:
    from flows.pipeline import pipeline

    settings = EngineSettings(**ENGINE)
    install_engine(settings, engine, max_in_flight=settings.max_in_flight)
    try:
        return pipeline(config=_config(root))
    finally:
        uninstall_engine(settings)


def _shard_times(run_dir: str, name: str) -> list[float]:
    folder = os.path.join(run_dir, "generated", name)
    return sorted(os.stat(os.path.join(folder, f)).st_mtime for f in os.listdir(folder) if f.startswith("shard-"))


@pytest.mark.slow
def test_killed_mid_stage_then_resumed_export_is_byte_identical(tmp_path, prefect_harness, ray_local):
    resumed_root, clean_root = str(tmp_path / "resumed"), str(tmp_path / "clean")
    with pytest.raises(Exception, match="scripted engine died"):
        _run(resumed_root, scripted(seed=1, fail_after=10))
    run_dir = next(os.scandir(resumed_root)).path
    planned_bonito = -(-(len(DOCS) + 6) // 2)
    done_before = len(_shard_times(run_dir, "bonito"))
    assert 0 < done_before < planned_bonito, "the failure hit mid-stage"
    with open(os.path.join(run_dir, "manifest.json")) as f:
        assert not json.load(f)["stages"]["generated/bonito"].get("done"), "a killed stage is not marked done"

    resumed = _run(resumed_root, scripted(seed=2))
    reports = {r["name"]: r for r in resumed["generation"]}
    assert reports["bonito"]["resumed"] == done_before and reports["bonito"]["shards"] == planned_bonito
    # Slower, differently ordered replies: the clean run's shards finish in another order.
    clean = _run(clean_root, scripted(seed=3, low=0.02, high=0.12))
    for name in EXPORTS:
        with open(os.path.join(resumed["export"]["records"].rsplit("/", 1)[0], name), "rb") as a:
            with open(os.path.join(clean["export"]["records"].rsplit("/", 1)[0], name), "rb") as b:
                assert a.read() == b.read(), name
    assert resumed["records_per_stage"] == clean["records_per_stage"]
    with open(os.path.join(run_dir, "manifest.json")) as f:
        stages_done = {stage for stage, info in json.load(f)["stages"].items() if info.get("done")}
    assert {"generated/bonito", "generated/self_guide", "generated/sql_exec"} <= stages_done  # `taskmill inspect` reads it
    assert clean["records_per_stage"]["generated/bonito"] > 0 and clean["records_per_stage"]["generated/self_guide"] > 0

    # Generators ran side by side: each stage started before every other one had finished.
    stages = {r["name"]: r for r in clean["generation"]}
    assert set(stages) == {"bonito", "self_guide", "sql_exec"}
    for a in stages.values():
        for b in stages.values():
            assert a["started_at"] < b["finished_at"], f"{a['name']} started only after {b['name']} had finished"



def _self_guide(tasks: int) -> SelfGuideGenerator:
    config = SelfGuideConfig.model_validate(
        {"method": "self_guide", "tasks": sentiment_tasks(tasks), "rounds": 3, "prompts_per_round": 2,
         "annotation": {"n_annot": 3, "best_of": 5, "max_tokens": 16}}  # fmt: skip
    )
    return SelfGuideGenerator(config, run_seed=5)


def test_self_guide_tasks_run_concurrently_and_match_the_batch_path():
    gen = _self_guide(4)
    shards = gen.plan_shards([])
    engine = scripted(seed=7, low=0.005, high=0.03)
    stream = StreamingEngine(engine, max_in_flight=64)
    outputs: dict[int, object] = {}
    asyncio.run(stream_shards(gen, shards, list(range(4)), stream, lambda i, out, _s: outputs.__setitem__(i, out)))
    # Rounds are sequential inside a task (2 prompts each), so only concurrent tasks and
    # early annotations can put more than 4 requests in flight.
    assert engine.meter.snapshot().peak_in_flight > 4
    assert stream.stats.requests == len(engine.requests)

    batch_engine = scripted(seed=0)
    for index, shard in enumerate(shards):
        batch = gen.run_shard(shard, batch_engine)
        streamed = outputs[index]
        for part in ("kept", "rejects", "intermediate"):
            a, b = getattr(streamed, part), getattr(batch, part)
            assert from_table(to_table(a)) == from_table(to_table(b)), (index, part)
        assert streamed.stats == batch.stats
    assert sum(len(o.kept) for o in outputs.values()) > 0


def test_in_flight_bound_and_fifo_order():
    engine = scripted(seed=9, low=0.0, high=0.01)
    stream = StreamingEngine(engine, max_in_flight=3)
    from taskmill.engine.base import GenerationRequest

    requests = [GenerationRequest(prompt=f"p{i} [input]=\n", seed=i) for i in range(40)]
    results = stream.generate(requests)
    assert [r.texts for r in results] == [engine.answer(r).texts for r in requests]
    assert engine.meter.snapshot().peak_in_flight == 3
    assert [r.prompt for r in engine.requests[:40]] == [r.prompt for r in requests]  # sent in submission order


def test_a_stage_that_starts_behind_a_full_queue_still_runs_every_shard():
    from generators.bonito import BonitoConfig, BonitoGenerator
    from taskmill.engine.base import GenerationRequest

    engine = scripted(seed=4, low=0.05, high=0.1)
    stream = StreamingEngine(engine, max_in_flight=2)
    # Another stage's requests fill the queue (2 in flight, 4 waiting) before this stage opens a shard.
    others = [stream.submit(GenerationRequest(prompt=f"other {i} [input]=\n", seed=i)) for i in range(6)]
    assert stream.backlog() >= stream.max_in_flight
    gen = BonitoGenerator(BonitoConfig.model_validate({"method": "bonito", "prompted_format": "json", "shard_size": 2, "tasks": {"qa": None}}), 1)
    shards = gen.plan_shards([{"id": f"d{i}", "text": text} for i, text in enumerate(DOCS[:4])])
    outputs: dict[int, object] = {}
    asyncio.run(stream_shards(gen, shards, [0, 1], stream, lambda i, out, _s: outputs.__setitem__(i, out)))
    assert sorted(outputs) == [0, 1] and all(len(out.kept) + len(out.rejects) == 2 for out in outputs.values())
    assert all(f.done() for f in others)


def test_a_batch_only_generator_still_streams():
    """A generator with only the batch `run_shard` runs in a worker thread, its calls through the dispatcher."""
    from generators.base import Generator, ShardOutput
    from taskmill.engine.base import GenerationRequest

    class TwoStep(Generator):
        method = "two_step"

        def plan_shards(self, documents):
            return [{"n": i} for i in range(3)]

        def run_shard(self, shard, engine):
            first = engine.generate([GenerationRequest(prompt=f"a{shard['n']} [input]=\n", seed=1)])[0]
            second = engine.generate([GenerationRequest(prompt=first.texts[0] + " [input]=\n", seed=2)])[0]
            return ShardOutput(stats={"texts": [first.texts[0], second.texts[0]], "model": engine.model_name})

    engine = scripted(seed=6, low=0.01, high=0.03)
    stream = StreamingEngine(engine, max_in_flight=4)
    outputs: dict[int, object] = {}
    gen = TwoStep(None, 0)  # type: ignore[arg-type]
    steps = asyncio.run(stream_shards(gen, gen.plan_shards([]), [0, 1, 2], stream, lambda i, out, _s: outputs.__setitem__(i, out)))
    assert sorted(outputs) == [0, 1, 2] and steps.tokens["requests"] == 6 == stream.stats.requests
    assert outputs[1].stats == gen.run_shard({"n": 1}, scripted(seed=0)).stats

