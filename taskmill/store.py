"""Run store: one directory per run, Parquet shards written atomically, a manifest.

Layout (see DESIGN.md):
    <root>/config.yaml
    <root>/<stage>/shard-00000.parquet ...        e.g. generated/bonito, curated, rejects
    <root>/manifest.json                           stage -> completed shards, counts, timings

A shard is written under a temporary name and renamed when complete, so a
crash never leaves a half shard; `has_shard` is what makes reruns resume.
Any pyarrow filesystem URI works as root (local path by default).
"""

from __future__ import annotations

import json
import posixpath
import threading
import time
import uuid
from contextlib import contextmanager
from typing import Any, Iterator

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from taskmill.records import SCHEMA, empty_table


class RunStore:
    def __init__(self, root: str):
        self.fs, path = pafs.FileSystem.from_uri(root) if "://" in root else (pafs.LocalFileSystem(), root)
        if isinstance(self.fs, pafs.LocalFileSystem):
            import os

            path = os.path.abspath(path)
        self.root = path.rstrip("/")
        self.fs.create_dir(self.root, recursive=True)
        self._manifest_lock = threading.Lock()

    # -- paths -------------------------------------------------------------
    def path(self, *parts: str) -> str:
        return posixpath.join(self.root, *parts)

    @staticmethod
    def shard_name(index: int | str) -> str:
        return f"shard-{index:05d}.parquet" if isinstance(index, int) else f"shard-{index}.parquet"

    def _exists(self, path: str) -> bool:
        return self.fs.get_file_info(path).type != pafs.FileType.NotFound

    # -- shards ------------------------------------------------------------
    def has_shard(self, stage: str, shard: int | str) -> bool:
        return self._exists(self.path(stage, self.shard_name(shard)))

    def write_shard(self, stage: str, shard: int | str, table: pa.Table) -> str:
        """Write atomically: temp file in the same directory, then rename."""
        directory = self.path(stage)
        self.fs.create_dir(directory, recursive=True)
        final = posixpath.join(directory, self.shard_name(shard))
        temp = posixpath.join(directory, f".tmp-{uuid.uuid4().hex}.parquet")
        with self.fs.open_output_stream(temp) as sink:
            pq.write_table(table, sink)
        self.fs.move(temp, final)
        return final

    def shard_paths(self, stage: str) -> list[str]:
        directory = self.path(stage)
        if not self._exists(directory):
            return []
        infos = self.fs.get_file_info(pafs.FileSelector(directory, recursive=False))
        names = sorted(i.path for i in infos if posixpath.basename(i.path).startswith("shard-") and i.path.endswith(".parquet"))
        return names

    def iter_shards(self, stage: str) -> Iterator[pa.Table]:
        for path in self.shard_paths(stage):
            with self.fs.open_input_file(path) as f:
                yield pq.read_table(f)

    def read_stage(self, stage: str, schema: pa.Schema | None = SCHEMA) -> pa.Table:
        tables = list(self.iter_shards(stage))
        if not tables:
            return empty_table() if schema is SCHEMA else (schema.empty_table() if schema else pa.table({}))
        return pa.concat_tables(tables, promote_options="default")

    # -- small files ---------------------------------------------------------
    def write_text(self, name: str, text: str) -> str:
        path = self.path(name)
        self.fs.create_dir(posixpath.dirname(path), recursive=True)
        temp = f"{path}.tmp-{uuid.uuid4().hex}"
        with self.fs.open_output_stream(temp) as f:
            f.write(text.encode("utf-8"))
        self.fs.move(temp, path)
        return path

    def read_text(self, name: str) -> str | None:
        path = self.path(name)
        if not self._exists(path):
            return None
        with self.fs.open_input_stream(path) as f:
            return f.read().decode("utf-8")

    # -- manifest ------------------------------------------------------------
    def manifest(self) -> dict[str, Any]:
        text = self.read_text("manifest.json")
        return json.loads(text) if text else {"stages": {}}

    @contextmanager
    def _edit_manifest(self) -> Iterator[dict[str, Any]]:
        """Read, change and rewrite the manifest under the lock (threads may finish shards at once)."""
        with self._manifest_lock:
            manifest = self.manifest()
            yield manifest
            manifest["updated"] = time.time()
            self.write_text("manifest.json", json.dumps(manifest, indent=2, sort_keys=True))

    def record_shard(self, stage: str, shard: int | str, rows: int, seconds: float, **extra: Any) -> None:
        """Note a completed shard in the manifest (after the shard file exists)."""
        with self._edit_manifest() as manifest:
            entry = manifest["stages"].setdefault(stage, {"shards": {}})
            entry["shards"][self.shard_name(shard)] = {"rows": rows, "seconds": round(seconds, 3), **extra}
            entry["rows"] = sum(s["rows"] for s in entry["shards"].values())

    # -- whole-stage completion (for global stages such as dedup) -------------
    def stage_done(self, stage: str) -> bool:
        return bool(self.manifest()["stages"].get(stage, {}).get("done"))

    def mark_stage_done(self, stage: str, **info: Any) -> None:
        with self._edit_manifest() as manifest:
            manifest["stages"].setdefault(stage, {"shards": {}}).update(info, done=True)

    def clear_stage(self, stage: str) -> None:
        """Remove a stage's files (a global stage that did not finish starts over)."""
        if self._exists(self.path(stage)):
            self.fs.delete_dir(self.path(stage))
        with self._edit_manifest() as manifest:
            manifest["stages"].pop(stage, None)
