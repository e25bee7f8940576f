"""Hub publishing round trip against a local Hub-compatible server (tests/ops/hub_server.py).

Push a finished run (CLI), load it back with `datasets.load_dataset`, parse the
card with `huggingface_hub.DatasetCard`, re-push with fewer shards (stale ones
go), push a second config. The pushes and loads run in child processes so
huggingface_hub reads HF_ENDPOINT / HF_HUB_DISABLE_XET fresh, as a user's would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pyarrow.parquet as pq
import pytest
from hub_server import HubServer

from conftest import ROOT, run_cli

pytestmark = pytest.mark.slow
REPO = "user/ops-data"

LOAD = """
import json, sys
from datasets import load_dataset
from huggingface_hub import DatasetCard
repo, names = sys.argv[1], sys.argv[2].split(",")
out = {name: load_dataset(repo, name, split="train").to_list() for name in names}
card = DatasetCard.load(repo, repo_type="dataset")
out["_card"] = {"data": card.data.to_dict(), "text": card.text}
print("RESULT " + json.dumps(out, default=str))
"""

PUSH_SMALL_SHARDS = """
import sys
from taskmill.hub import push_run
print(push_run(sys.argv[1], sys.argv[2], shard_rows=3))
"""


@pytest.fixture
def hub(tmp_path):
    server = HubServer().start()
    env = {
        "HF_ENDPOINT": server.url,
        "HF_HUB_DISABLE_XET": "1",
        "HF_TOKEN": server.token,
        "HF_HOME": str(tmp_path / "hf-home"),  # no real login or cache
        "HF_DATASETS_CACHE": str(tmp_path / "hf-datasets"),
        "HF_HUB_OFFLINE": "1",  # as taskmill sets it: pushing must still reach the Hub
    }
    yield server, env
    server.stop()


def _python(code: str, args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run([sys.executable, "-c", code, *args], env={**os.environ, "PYTHONPATH": ROOT, **env},
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout + done.stderr


def _load(repo: str, names: list[str], env: dict[str, str]) -> dict:
    out = _python(LOAD, [repo, ",".join(names)], {**env, "HF_HUB_OFFLINE": "0"})
    return json.loads(out.split("RESULT ", 1)[1].splitlines()[0])


def _jsonl(path: str) -> list[dict]:
    return [json.loads(line) for line in open(path, encoding="utf-8") if line.strip()]


def test_push_load_repush_and_second_config(run_copy, hub):
    server, env = hub
    export = os.path.join(run_copy, "export")

    # 1. First push with tiny shards, so a later push has fewer and must remove the rest.
    outputs = [_python(PUSH_SMALL_SHARDS, [run_copy, REPO], env)]
    first = set(server.files(REPO))
    messages_shards = sorted(p for p in first if p.startswith("data/messages/"))
    assert len(messages_shards) > 1
    assert server.repos[REPO].private is True

    # 2. Re-push through the CLI (rewrites export/ first): one shard per config, stale shards gone.
    done = run_cli(["export", run_copy, "--push", REPO], env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    outputs.append(done.stdout + done.stderr)
    files = set(server.files(REPO))
    assert sorted(p for p in files if p.startswith("data/messages/")) == ["data/messages/train-00000-of-00001.parquet"]
    assert not (set(messages_shards) - {"data/messages/train-00000-of-00001.parquet"}) & files
    assert {"README.md", "data/alpaca/train-00000-of-00001.parquet", "data/records/train-00000-of-00001.parquet"} <= files

    # 3. Load back with the real `datasets` and parse the card.
    loaded = _load(REPO, ["messages", "alpaca", "records"], env)
    assert loaded["messages"] == _jsonl(os.path.join(export, "messages.jsonl"))
    assert loaded["alpaca"] == _jsonl(os.path.join(export, "alpaca.jsonl"))
    local_records = pq.read_table(os.path.join(export, "records.parquet")).to_pylist()
    assert [r["id"] for r in loaded["records"]] == [r["id"] for r in local_records]
    assert [r["instruction"] for r in loaded["records"]] == [r["instruction"] for r in local_records]
    card = loaded["_card"]
    assert card["data"]["license"] == "apache-2.0" and card["data"]["language"] == ["en"]
    assert card["data"]["task_categories"] == ["text-generation"] and card["data"]["size_categories"] == ["n<1K"]
    assert [c["config_name"] for c in card["data"]["configs"]] == ["messages", "alpaca", "records"]
    for section in ("## How to load", "## Rejected records by reason", "## Mixture", "## Generators: model and sampling lineage",
                    "## Examples (messages format)", "## Config", f'load_dataset("{REPO}", "messages", split="train")'):
        assert section in card["text"], section
    assert card["text"].count("```json") == 3
    assert server.validated_yaml, "the card went through /api/validate-yaml"

    # 4. A second config in the same repo keeps the first ones.
    done = run_cli(["export", run_copy, "--push", REPO, "--config-name", "nightly", "--no-rewrite"], env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    outputs.append(done.stdout + done.stderr)
    again = _load(REPO, ["nightly", "messages"], env)
    assert again["nightly"] == again["messages"] == loaded["messages"]
    assert [c["config_name"] for c in again["_card"]["data"]["configs"]] == ["messages", "alpaca", "records", "nightly"]

    # The token went to the server only: not in any output, run-dir file or pushed file.
    assert server.token in server.seen_tokens
    for text in outputs:
        assert server.token not in text
    for dirpath, _dirs, names in os.walk(run_copy):
        for name in names:
            assert server.token.encode() not in open(os.path.join(dirpath, name), "rb").read(), name
    assert all(server.token.encode() not in data for data in server.files(REPO).values())


def test_push_without_token_says_how_to_log_in(run_copy, hub):
    server, env = hub
    done = run_cli(["export", run_copy, "--push", REPO, "--no-rewrite"], env={**env, "HF_TOKEN": ""})
    assert done.returncode == 3
    assert "no Hugging Face token: set HF_TOKEN or run `hf auth login`" in done.stderr
    assert REPO not in server.repos


def test_pipeline_pushes_when_the_config_says_so(finished_run, hub, monkeypatch, prefect_harness):
    """`export.push_to_hub` in the config: the flow pushes after exporting (here: a resumed run of the shared one)."""
    import asyncio

    import yaml
    from prefect.client.orchestration import get_client

    from conftest import small_config
    from flows.pipeline import pipeline

    server, env = hub
    for key in ("HF_ENDPOINT", "HF_HUB_DISABLE_XET", "HF_TOKEN"):
        monkeypatch.setenv(key, env[key])
    config = small_config(os.path.dirname(finished_run))
    config["export"]["push_to_hub"] = {"repo": "user/from-config", "private": False, "config_name": "sql"}
    state = pipeline(config=config, return_state=True)
    summary = state.result()
    assert summary["run_dir"] == finished_run  # Hub settings are not part of the run id: it resumed
    assert summary["hub"]["configs"] == ["sql"] and server.repos["user/from-config"].private is False
    assert "data/sql/train-00000-of-00001.parquet" in server.files("user/from-config")

    async def read():
        async with get_client() as client:
            return await client.read_flow_run(state.state_details.flow_run_id)

    flow_run = asyncio.run(read())
    assert flow_run.name == os.path.basename(finished_run)
    assert {"taskmill", "config:ops", "method:sql_exec"} <= set(flow_run.tags)
    assert yaml.safe_load(open(os.path.join(finished_run, "config.yaml")))["export"]["push_to_hub"]["repo"] == "user/from-config"


def test_refused_push_and_bad_repo_id_are_one_line_errors(run_copy, hub):
    server, env = hub
    wrong = "hf_wrongTOKEN0123456789"
    done = run_cli(["export", run_copy, "--push", REPO, "--no-rewrite"], env={**env, "HF_TOKEN": wrong})
    assert done.returncode == 3 and done.stderr.startswith(f"taskmill export: push to {REPO}@main failed: ")
    assert "Traceback" not in done.stderr and wrong not in done.stderr + done.stdout
    done = run_cli(["export", run_copy, "--push", "not a repo", "--no-rewrite"], env=env)
    assert done.returncode == 3 and "repo 'not a repo': give a dataset repo as user/name or org/name" in done.stderr
