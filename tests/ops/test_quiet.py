"""Quiet runs (issue 13 §3): one terminal line per stage, worker output in logs/engine.log, artifacts per stage.

Real Prefect (test harness API), real Ray; generation answers from the scripted engine
built by the engine factory, so the run still goes through the `engine-startup` step.
The real vLLM engine's output is checked in test_quiet_vllm.py.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import time

import pytest
import yaml

from chaos import chaos_config, scripted_answer

STAGE_LINE = re.compile(r"^  (?P<stage>[\w.-]+)\s+(?P<in>\d+|-) in →\s+(?P<kept>\d+|-) kept\s+(?P<s>[\d.]+) s")
WORKER_MARKS = ("pid=", "INFO 1", "WARNING 1", "Finished in state", "Task run", "Loading weights", "Saving the dataset")


def _wait_for(predicate, timeout_s: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def _read(path: str) -> str:
    return open(path, encoding="utf-8").read() if os.path.exists(path) else ""


@pytest.mark.parametrize("verbose", [False, True])
def test_worker_output_goes_to_the_run_log_and_to_the_terminal_only_when_verbose(ray_local, tmp_path, capfd, verbose):
    import ray

    from taskmill.logs import RunOutput

    @ray.remote(num_cpus=0)
    def noisy(text: str) -> int:
        print(text, flush=True)
        return 1

    marker = f"quiet-marker-{verbose}-{time.time_ns()}"
    with RunOutput(str(tmp_path), verbose=verbose) as output:
        assert ray.get(noisy.remote(marker)) == 1
        assert _wait_for(lambda: marker in _read(output.path)), "worker line never reached logs/engine.log"
        if verbose:  # Ray's printer runs after the file is written: give it a moment
            _wait_for(lambda: False, timeout_s=1.0)
    out, err = capfd.readouterr()
    assert output.path == os.path.join(str(tmp_path), "logs", "engine.log")
    line = next(line for line in _read(output.path).splitlines() if marker in line)
    assert line.startswith("(noisy pid=")  # named after the task that printed it
    assert (marker in out + err) is verbose


@pytest.fixture
def scripted_factory(monkeypatch):
    """The factory builds a scripted engine where it would start vLLM actors (a real start-up step, no model)."""
    from taskmill.engine import factory
    from taskmill.engine.scripted import ScriptedEngine

    built = []

    def make(settings):
        time.sleep(0.2)  # a measurable start-up
        built.append(ScriptedEngine(scripted_answer, model_name="scripted-quiet"))
        return built[-1]

    monkeypatch.setattr(factory, "make_engine", make)
    yield built


def _quiet_config(tmp_path) -> str:
    cfg = chaos_config(str(tmp_path / "runs"), None)
    cfg["name"] = "quiet"
    cfg["run_root"] = "runs"  # relative, as in the demo: stages find the stage table by the config's run dir
    cfg["engine"] = {"max_num_seqs": 7}  # settings no other test uses: this run starts its own (scripted) engine
    cfg["generators"].append({"method": "sifo_chain", "chains_per_document": 1})
    cfg["selection"] = {"method": "none", "budget": 0.8, "mixture": {"strategy": "temperature", "temperature": 3.0}}
    path = tmp_path / "quiet.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return str(path)


def _artifacts(flow_run_name: str):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, FlowRunFilter, FlowRunFilterName

    async def read():
        async with get_client() as client:
            runs = await client.read_flow_runs(flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[flow_run_name])))
            ids = [r.id for r in runs]
            return runs, await client.read_artifacts(artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=ids)))

    return asyncio.run(read())


@pytest.mark.slow
def test_quiet_run_prints_one_line_per_stage_and_publishes_progress_and_stage_table(
    tmp_path, prefect_harness, ray_local, scripted_factory, capfd, monkeypatch
):  # fmt: skip
    from taskmill.cli import main
    from taskmill.config import load_config
    from taskmill.engine.factory import uninstall_engine

    for name in ("TASKMILL_VERBOSE", "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "HF_HUB_DISABLE_PROGRESS_BARS", "HF_DATASETS_DISABLE_PROGRESS_BARS"):
        monkeypatch.setenv(name, os.environ.get(name, ""))  # main() sets them; restored after the test
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    config = _quiet_config(tmp_path)
    cfg = load_config(config)
    try:
        assert main(["run", config]) == 0
    finally:
        uninstall_engine(cfg.engine)
    out, err = capfd.readouterr()

    # The terminal: a header, one line per stage, the end summary; no engine, Ray or Prefect chatter.
    stages = [m["stage"] for m in map(STAGE_LINE.match, out.splitlines()) if m]
    generators = [f"generate-{g.name}" for g in cfg.generators]
    assert sorted(stages) == sorted(["load-sources", "engine-startup", *generators, "curate", "roundtrip", "select", "export"])
    assert stages.index("engine-startup") < stages.index("generate-bonito") and stages[-4:] == ["curate", "roundtrip", "select", "export"]
    assert not [line for line in (out + err).splitlines() if any(mark in line for mark in WORKER_MARKS)], out + err
    lines = {m["stage"]: m for m in map(STAGE_LINE.match, out.splitlines()) if m}
    summary = json.load(open(os.path.join(cfg.run_dir, "summary.json")))
    assert int(lines["select"]["kept"]) == summary["records_per_stage"]["selected"]
    assert int(lines["export"]["kept"]) == summary["records_per_stage"]["exported"]
    assert int(lines["generate-bonito"]["kept"]) == summary["records_per_stage"]["generated/bonito"]
    assert os.path.exists(os.path.join(cfg.run_dir, "logs", "engine.log"))
    assert len(scripted_factory) == 1  # one start-up, shared by the generators

    # Artifacts, read back through the Prefect API.
    runs, artifacts = _artifacts(cfg.resolved_run_id)
    assert len(runs) == 1
    key = cfg.resolved_run_id.lower()
    table_versions = [a for a in artifacts if a.key == f"{key}-stages"]
    assert len(table_versions) == len(stages)  # one version per stage end: the table grew as stages ended
    latest = max(table_versions, key=lambda a: a.created)
    rows = json.loads(latest.data) if isinstance(latest.data, str) else latest.data
    by_stage = {row["stage"]: row for row in rows}
    assert set(by_stage) == set(stages)
    bonito = by_stage["generate-bonito"]
    assert bonito["kept"] == summary["records_per_stage"]["generated/bonito"] and bonito["tokens/s"] != "-"
    sql_rejects = summary["rejects"]["generate-sql_exec"]
    assert all(f"{reason} {n}" in by_stage["generate-sql_exec"]["rejected"] for reason, n in sql_rejects.items())
    assert by_stage["engine-startup"]["seconds"] >= 0.2
    progress = {a.description.split(":")[0]: a.data for a in artifacts if a.type == "progress"}
    assert progress == {stage: 100.0 for stage in [*generators, "curate", "select", "export"]}
    keys = {a.key for a in artifacts}
    assert {f"{key}-samples", f"{key}-card", f"{key}-mixture"} <= keys
    card = next(a for a in artifacts if a.key == f"{key}-card").data
    assert card == open(os.path.join(cfg.run_dir, "export", "README.md"), encoding="utf-8").read()
    mixture = next(a for a in artifacts if a.key == f"{key}-mixture").data
    mixture_rows = json.loads(mixture) if isinstance(mixture, str) else mixture
    weights = [row["weight"] for row in mixture_rows]
    assert weights and all(round(w, 4) == w for w in weights)
    samples = next(a for a in artifacts if a.key == f"{key}-samples").data
    sample_rows = json.loads(samples) if isinstance(samples, str) else samples
    assert {row["kept"] for row in sample_rows} >= {"kept"} and {row["generator"] for row in sample_rows} >= {"bonito"}

    # -v on the finished run: the full end summary (rejects per reason); stages done earlier say so.
    assert main(["run", "-v", config]) == 0
    out, err = capfd.readouterr()
    assert "rejected at generate-sql_exec" in out and "rejects by reason: taskmill inspect" not in out
    assert re.search(r"^  curate .* done earlier", out, re.M) and re.search(r"^  generate-bonito .* done earlier", out, re.M)
    assert re.search(r"^  roundtrip .* 0.0 s  done earlier", out, re.M), out
    assert "engine-startup" not in out  # nothing left to generate: no engine started


def test_progress_artifact_moves_from_an_event_loop_thread(prefect_harness):
    """Shards end inside event loops, some in threads without Prefect's run context: updates must still land."""
    import threading

    from prefect import flow
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterId

    from flows.progress import StageProgress

    @flow(name="quiet-progress")
    def stage_with_loop():
        progress = StageProgress("loop-stage", "units done")

        async def finish_some() -> None:
            progress.advance(3, 4)

        worker = threading.Thread(target=lambda: asyncio.run(finish_some()))  # no Prefect context in this thread
        worker.start()
        worker.join()
        return progress.id

    artifact_id = stage_with_loop()

    async def read():
        async with get_client() as client:
            return await client.read_artifacts(artifact_filter=ArtifactFilter(id=ArtifactFilterId(any_=[artifact_id])))

    (artifact,) = asyncio.run(read())
    assert artifact.type == "progress" and artifact.data == 75.0


def test_progress_updates_are_throttled_but_the_last_one_always_lands(monkeypatch):
    """A stage of many tiny shards must not make one Prefect API call per shard."""
    import uuid

    import prefect.artifacts

    from flows.progress import StageProgress

    sent = []
    monkeypatch.setattr(prefect.artifacts, "update_progress_artifact", lambda artifact_id, progress, _sync: sent.append(progress))
    progress = StageProgress("many-shards", "shards")  # outside a run: no artifact is created...
    progress.id = uuid.uuid4()  # ...so give it one to update
    for done in range(1, 801):
        progress.advance(done, 800)
    assert sent[0] == 0.1 and sent[-1] == 100.0 and len(sent) <= 3  # first, (maybe one a second later), last
    progress.done()
    assert sent[-1] == 100.0 and sent.count(100.0) == 1


def test_live_generation_line_redraws_in_place_on_a_terminal_and_is_absent_from_a_pipe():
    import io

    from flows.progress import LiveGeneration
    from taskmill.logs import Terminal

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    for stream, live_shown in ((Tty(), True), (io.StringIO(), False)):
        terminal = Terminal(stream)
        live = LiveGeneration(terminal)
        live.start("bonito", 3)
        live.shard_done("bonito")
        live.request_done("bonito")
        terminal.line("  generate-bonito done")
        text = stream.getvalue()
        assert text.count("\n") == 1 and text.endswith("\r  generate-bonito done\n" if live_shown else "  generate-bonito done\n")
        assert ("\r  generating: bonito 1/3 shards" in text) is live_shown
        if live_shown:  # the live line is blanked before the stage line is written over it
            assert text.rsplit("\r", 2)[-2].strip() == ""
        else:
            assert "\r" not in text
