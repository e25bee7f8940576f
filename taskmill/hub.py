"""Publish a run's export to the Hugging Face Hub as a dataset repo (huggingface_hub's HfApi).

Layout in the repo (one `datasets` config per trainer format, or one named config):

    README.md                                   dataset card; its `configs:` list every config's files
    data/<config>/train-00000-of-0000N.parquet  the config's rows, Parquet shards

With `config_name` unset, every exported format becomes a config named after it
(the first is the default) plus `records` (full records with lineage). With a
`config_name`, one config of that name holds the first format; configs pushed
earlier under other names stay, so one repo can hold several datasets.

One commit per push: it adds the new shards and the card and deletes the files
of the pushed configs that the new push does not have (a re-push with fewer
shards leaves no stale ones). The token comes only from `HF_TOKEN` or the
`hf auth login` store, never from the config; it is not logged or written.
`HF_ENDPOINT` selects another Hub (used by the tests' local server).
"""

from __future__ import annotations

import io
import json
import os
import re
from contextlib import contextmanager
from typing import Any, Iterator

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from taskmill.card import evaluation_section, render_card
from taskmill.records import from_table
from taskmill.redact import mask_text

SHARD_ROWS = 100_000  # rows per Parquet shard on the Hub
REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")


class HubPushError(RuntimeError):
    """The push cannot start (no token, no export) or the Hub refused it; the message says which."""


@contextmanager
def _one_line_hub_errors(repo: str, revision: str, http_error: tuple[type[Exception], ...]) -> Iterator[None]:
    """The Hub's refusal as a HubPushError with its first line (the token is never in it; masked anyway)."""
    try:
        yield
    except http_error as exc:
        first_line = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise HubPushError(f"push to {repo}@{revision} failed: {mask_text(first_line)}") from exc


@contextmanager
def _online() -> Iterator[None]:
    """Let huggingface_hub reach the Hub for this push even if the run set HF_HUB_OFFLINE.

    taskmill runs offline by default (models are local); pushing is the one step
    that needs the network, asked for explicitly. HF_ENDPOINT is re-read here
    because huggingface_hub reads it (and HF_HUB_DISABLE_XET) once at import.
    """
    from huggingface_hub import constants

    saved = constants.HF_HUB_OFFLINE, constants.ENDPOINT, constants.HF_HUB_DISABLE_XET
    constants.HF_HUB_OFFLINE = False
    constants.ENDPOINT = os.environ.get("HF_ENDPOINT", constants.ENDPOINT).rstrip("/")
    constants.HF_HUB_DISABLE_XET = os.environ.get("HF_HUB_DISABLE_XET", "").upper() in ("1", "ON", "YES", "TRUE") or saved[2]
    try:
        yield
    finally:
        constants.HF_HUB_OFFLINE, constants.ENDPOINT, constants.HF_HUB_DISABLE_XET = saved


def _read_jsonl(path: str) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _parquet_shards(table: pa.Table, config: str, shard_rows: int) -> dict[str, bytes]:
    """{repo path: Parquet bytes} for one config; at least one shard (an empty config still loads)."""
    count = max(1, -(-table.num_rows // shard_rows))
    shards = {}
    for i in range(count):
        buffer = io.BytesIO()
        pq.write_table(table.slice(i * shard_rows, shard_rows), buffer)
        shards[f"data/{config}/train-{i:05d}-of-{count:05d}.parquet"] = buffer.getvalue()
    return shards


def _existing_configs(api: Any, repo: str, revision: str, files: list[str]) -> list[dict]:
    """The `configs:` of the card already in the repo (empty for a new repo)."""
    if "README.md" not in files:
        return []
    from huggingface_hub import DatasetCard

    path = api.hf_hub_download(repo, "README.md", repo_type="dataset", revision=revision)
    return list((DatasetCard.load(path).data.to_dict() or {}).get("configs") or [])


def _local_evaluation(export_dir: str) -> str | None:
    """The `taskmill evaluate` section of the local card, carried to the Hub card."""
    path = os.path.join(export_dir, "README.md")
    return evaluation_section(open(path, encoding="utf-8").read()) if os.path.isfile(path) else None


def check_push(repo: str) -> None:
    """What a push needs before any work: a valid dataset repo id and a token. Raises HubPushError naming what is missing."""
    if not REPO_ID.match(repo):
        raise HubPushError(f"repo {repo!r}: give a dataset repo as user/name or org/name")
    from huggingface_hub import get_token

    if not get_token():
        raise HubPushError("no Hugging Face token: set HF_TOKEN or run `hf auth login` (the config never holds it)")


def push_run(
    run_dir: str,
    repo: str,
    *,
    private: bool = True,
    config_name: str | None = None,
    revision: str = "main",
    shard_rows: int = SHARD_ROWS,
) -> dict[str, Any]:
    """Push `<run_dir>/export` to the dataset repo `repo` ("user/name"); returns what was pushed.

    Returns {"repo", "revision", "commit", "configs": [names], "files": [paths added], "deleted": [paths]}.
    Raises HubPushError without a token, an export or a valid repo id, and when the Hub refuses.
    """
    check_push(repo)
    export_dir = os.path.join(run_dir, "export")
    if not os.path.exists(os.path.join(export_dir, "records.parquet")):
        raise HubPushError(f"{export_dir}: no export here (records.parquet missing); run the pipeline first")
    config = yaml.safe_load(open(os.path.join(run_dir, "config.yaml"), encoding="utf-8")) or {}
    summary_path = os.path.join(run_dir, "summary.json")
    summary = json.load(open(summary_path, encoding="utf-8")) if os.path.exists(summary_path) else {}
    mixture = json.load(open(os.path.join(export_dir, "mixture.json"), encoding="utf-8"))
    export_cfg = config.get("export", {})
    formats = [f for f in export_cfg.get("formats", []) if os.path.exists(os.path.join(export_dir, f"{f}.jsonl"))]
    if not formats:
        raise HubPushError(f"{export_dir}: no trainer-format files (<format>.jsonl) to push")
    records_table = pq.read_table(os.path.join(export_dir, "records.parquet"))

    tables = {config_name: pa.Table.from_pylist(_read_jsonl(os.path.join(export_dir, f"{formats[0]}.jsonl")))} if config_name else {
        **{fmt: pa.Table.from_pylist(_read_jsonl(os.path.join(export_dir, f"{fmt}.jsonl"))) for fmt in formats},
        "records": records_table,
    }
    uploads: dict[str, bytes] = {}
    for name, table in tables.items():
        uploads.update(_parquet_shards(table, name, shard_rows))

    from huggingface_hub import CommitOperationAdd, CommitOperationDelete, DatasetCard, HfApi, get_token
    from huggingface_hub.errors import HfHubHTTPError
    from httpx2 import HTTPError  # connection refused, timeouts (huggingface_hub's HTTP client)

    with _online(), _one_line_hub_errors(repo, revision, (HfHubHTTPError, HTTPError)):
        if not get_token():
            raise HubPushError("no Hugging Face token: set HF_TOKEN or run `hf auth login` (the config never holds it)")
        api = HfApi(endpoint=os.environ.get("HF_ENDPOINT"))
        api.create_repo(repo, repo_type="dataset", private=private, exist_ok=True)
        if revision != "main":
            api.create_branch(repo, branch=revision, repo_type="dataset", exist_ok=True)
        files = api.list_repo_files(repo, repo_type="dataset", revision=revision)
        stale = sorted(p for p in files if any(p.startswith(f"data/{name}/") for name in tables) and p not in uploads)

        pushed = [
            {"config_name": name, "data_files": [{"split": "train", "path": f"data/{name}/train-*.parquet"}]} for name in tables
        ]
        kept = [c for c in _existing_configs(api, repo, revision, files) if c.get("config_name") not in tables]
        configs = kept + pushed
        if not any(c.get("default") for c in configs):
            configs[0]["default"] = True
        records = from_table(records_table)  # meta and sampling decoded from their JSON columns
        card_text = render_card(
            export_cfg.get("dataset_name", repo.split("/")[-1]), records, formats, mixture, summary,
            configs=configs, resolved_config=config, license=export_cfg.get("license", "other"),
            language=export_cfg.get("language", ["en"]), load_path=repo,
            files_note="".join(f"- config `{c['config_name']}`: `{c['data_files'][0]['path']}`\n" for c in configs)
            + (f"\nThis push: {', '.join(tables)} (formats: {', '.join(formats)}); `records` holds full records with lineage.\n"),
            evaluation=_local_evaluation(export_dir),
        )
        card = DatasetCard(card_text)
        card.validate(repo_type="dataset")  # the Hub's own metadata check (/api/validate-yaml)
        operations = [CommitOperationAdd(path, data) for path, data in sorted(uploads.items())]
        operations.append(CommitOperationAdd("README.md", card_text.encode("utf-8")))
        operations += [CommitOperationDelete(path) for path in stale]
        info = api.create_commit(
            repo, operations, repo_type="dataset", revision=revision,
            commit_message=f"taskmill: push {', '.join(tables)} from run {summary.get('run_id', os.path.basename(run_dir))}",
        )
    return {
        "repo": repo, "revision": revision, "commit": info.oid, "configs": list(tables),
        "files": sorted(uploads) + ["README.md"], "deleted": stale,
    }
