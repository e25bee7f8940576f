"""Engine actor restart: a killed engine worker is restarted, its requests are sent again, the run ends the same.

The engine actors are real Ray actors on the session's local Ray, hosting the
scripted engine (`RayVLLMEngine(build=...)`: cheap, deterministic answers from
tests/ops/chaos.py), so killing the actor's worker process is the same event
as killing a vLLM worker. The flow is the real Prefect flow.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from concurrent.futures import wait

import pytest

import chaos
from cluster import SlowScriptedBuild, kill_when
from taskmill.config import parse_config
from taskmill.engine.base import GenerationRequest
from taskmill.engine.factory import install_engine, uninstall_engine
from taskmill.engine.ray_backend import EngineActorLost, RayVLLMEngine

pytestmark = pytest.mark.slow


def _config(run_root: str, **engine) -> dict:
    config = chaos.chaos_config(run_root, None)
    config["generators"] = config["generators"][:1]  # Bonito only: every request goes through the actor
    config["engine"] = {"max_model_len": 2048, **engine}
    return config


def _run_twice(tmp_path, kill) -> tuple[dict, dict, RayVLLMEngine, int]:
    """An uninterrupted run, then the same run with `kill(engine)` mid-stage; both runs' export files."""
    from flows.pipeline import pipeline

    # A quarter CPU: the session's vLLM actor holds one of Ray's two, and curation's Ray tasks need the rest.
    config = _config(str(tmp_path / "runs"), max_actor_restarts=2, actor_num_cpus=0.25)
    cfg = parse_config(config)
    engine = RayVLLMEngine(cfg.engine, build=SlowScriptedBuild())
    stream = install_engine(cfg.engine, engine, max_in_flight=4)  # waves of 4: the stage lasts a few seconds
    try:
        reference = chaos.export_files(os.path.join(pipeline(config=config)["run_dir"], "export"))
        shutil.rmtree(cfg.run_dir)
        stream.stats.requests = 0
        (before,) = engine.placement()
        watcher = kill_when(engine, stream, 6, lambda: kill(engine, before))
        summary = pipeline(config=config)
        watcher.join(timeout=1)
        return reference, chaos.export_files(os.path.join(summary["run_dir"], "export")), engine, before["pid"]
    finally:
        uninstall_engine(cfg.engine)
        engine.shutdown()


def test_sigkill_of_the_engine_worker_mid_stage_resends_its_requests_and_the_export_is_identical(tmp_path, prefect_harness, ray_local):
    reference, resumed, engine, killed_pid = _run_twice(tmp_path, lambda _engine, before: os.kill(before["pid"], signal.SIGKILL))
    assert engine.resent >= 1, "the kill landed with no request in flight"
    assert {"records.parquet", "messages.jsonl", "README.md"} <= set(reference)
    assert chaos.differing(reference, resumed) == []


def test_ray_kill_with_restart_resends_in_flight_requests_with_the_same_answers(ray_local):
    import ray

    from taskmill.engine.settings import EngineSettings

    engine = RayVLLMEngine(EngineSettings(max_actor_restarts=1, actor_num_cpus=0.25), build=SlowScriptedBuild(seconds=1.0))
    try:
        (before,) = engine.placement()
        requests = [GenerationRequest(prompt=f"passage {i}", seed=i) for i in range(5)]
        futures = [engine.submit(r) for r in requests]
        time.sleep(0.3)
        ray.kill(engine.actors[0], no_restart=False)
        texts = [f.result(timeout=120).texts for f in futures]
        assert texts == [[chaos.scripted_answer(r, 0)] for r in requests]
        assert engine.resent == 5
        assert engine.placement()[0]["pid"] != before["pid"]
    finally:
        engine.shutdown()


def test_an_actor_gone_for_good_hands_its_requests_to_the_other_engine(ray_local):
    import ray

    from taskmill.engine.settings import EngineSettings

    engine = RayVLLMEngine(EngineSettings(num_engines=2, actor_num_cpus=0.1, max_actor_restarts=1), build=SlowScriptedBuild(seconds=1.0))
    try:
        requests = [GenerationRequest(prompt=f"passage {i}", seed=i) for i in range(6)]
        futures = [engine.submit(r) for r in requests]  # least in flight first: 3 on each actor
        time.sleep(0.3)
        ray.kill(engine.actors[0], no_restart=True)
        assert [f.result(timeout=120).texts for f in futures] == [[chaos.scripted_answer(r, 0)] for r in requests]
        assert engine.dead == {0} and engine.resent == 3
        assert engine.submit(GenerationRequest(prompt="after", seed=9)).result(timeout=60).texts == [chaos.scripted_answer(GenerationRequest(prompt="after", seed=9), 0)]
    finally:
        engine.shutdown()


def test_resends_are_bounded_and_the_error_names_the_engine_and_count(ray_local):
    from taskmill.engine.settings import EngineSettings

    engine = RayVLLMEngine(EngineSettings(max_actor_restarts=0), build=SlowScriptedBuild(seconds=30.0))
    try:
        (where,) = engine.placement()
        futures = [engine.submit(GenerationRequest(prompt=f"p{i}", seed=i)) for i in range(3)]
        time.sleep(0.5)
        os.kill(where["pid"], signal.SIGKILL)
        wait(futures, timeout=60)
        for future in futures:
            with pytest.raises(EngineActorLost, match=r"engine 'scripted-actor' \(actor 0 of 1\).*sent 1 times \(engine.max_actor_restarts: 0\)"):
                future.result(timeout=0)
        assert engine.resent == 0
    finally:
        engine.shutdown()


def test_restart_and_placement_settings_do_not_change_the_run_id(tmp_path):
    base = _config(str(tmp_path))
    moved = _config(str(tmp_path), max_actor_restarts=7, actor_resources={"engine_node": 1})
    assert parse_config(base).resolved_run_id == parse_config(moved).resolved_run_id
    with pytest.raises(Exception, match="max_actor_restarts"):
        parse_config(_config(str(tmp_path), max_actor_restarts=-1))


@pytest.mark.vllm
def test_real_vllm_actor_killed_with_requests_in_flight_reloads_and_gives_the_same_texts(vllm_engine):
    """The session's real engine: SIGKILL its worker mid-batch; Ray restarts it, the model loads again, same seeded texts."""
    requests = [GenerationRequest(prompt=f"Write one sentence about the number {i}.", seed=i, max_tokens=32, temperature=0.8) for i in range(6)]
    before = [f.result().texts for f in [vllm_engine.submit(r) for r in requests]]
    (where,) = vllm_engine.placement()
    resent = vllm_engine.resent
    futures = [vllm_engine.submit(r) for r in requests]
    time.sleep(0.5)
    os.kill(where["pid"], signal.SIGKILL)
    assert [f.result(timeout=600).texts for f in futures] == before
    assert vllm_engine.resent > resent and vllm_engine.placement()[0]["pid"] != where["pid"]
