"""Run store: one directory per run, Parquet shards written atomically, a manifest.

Layout (see DESIGN.md):
    <root>/config.yaml
    <root>/<stage>/shard-00000.parquet ...        e.g. generated/bonito, curated, rejects
    <root>/manifest.json                           stage -> completed shards, counts, timings

A shard is written under a temporary name and renamed when complete, so a
crash never leaves a half shard; `has_shard` is what makes reruns resume.
Temporary files are removed when a write fails and, for ones a killed process
left behind, when the next run opens the store (`remove_temp_files`).
Any pyarrow filesystem URI works as root (local path by default).

One process at a time works on a run directory: `run_lock` takes an
exclusive lock on `<root>/.lock` (released by the OS if the process dies).
"""

from __future__ import annotations

import json
import os
import posixpath
import shutil
import threading
import time
import uuid
from contextlib import contextmanager
from typing import Any, Iterator

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from taskmill.records import SCHEMA, empty_table

TEMP_PREFIX = ".tmp-"
STAGING_MARK = ".staging-"  # `<dir>.staging-<uuid>`: a directory being written (see staged_directory)


class RunLockedError(RuntimeError):
    """Another process holds the run directory's lock."""


@contextmanager
def run_lock(root: str, wait_s: float = 0.0) -> Iterator[None]:
    """Hold `<root>/.lock` for the duration; wait up to `wait_s` seconds, then raise RunLockedError.

    Local run dirs only (a remote filesystem URI is not locked). The owner's pid
    and start time go to `<root>/.lock.owner` for the error message.
    """
    from filelock import FileLock, Timeout

    if "://" in root and not root.startswith("file://"):
        yield
        return
    root = os.path.abspath(root.removeprefix("file://"))
    os.makedirs(root, exist_ok=True)
    owner_file = os.path.join(root, ".lock.owner")
    lock = FileLock(os.path.join(root, ".lock"))
    try:
        lock.acquire(timeout=wait_s)
    except Timeout:
        try:
            owner = open(owner_file, encoding="utf-8").read().strip()
        except OSError:
            owner = "unknown process"
        raise RunLockedError(
            f"run directory {root} is in use by another taskmill process ({owner}); "
            f"waited {wait_s:g} s. Wait for it to finish, or set `lock_wait_s` to wait longer."
        ) from None
    try:
        with open(owner_file, "w", encoding="utf-8") as f:
            f.write(f"pid {os.getpid()} since {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}")
        yield
    finally:
        lock.release()


@contextmanager
def staged_directory(final: str) -> Iterator[str]:
    """Yield a fresh sibling directory to write into; it replaces `final` only if the block succeeds.

    On error the staging directory is removed and `final` is left as it was.
    The swap is two renames (old out of the way, new in); a kill between them
    leaves `final` absent, never half-written, and the next export writes it.
    """
    final = os.path.abspath(final)
    staging = f"{final}{STAGING_MARK}{uuid.uuid4().hex}"
    os.makedirs(staging)
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    retired = f"{final}{STAGING_MARK}old-{uuid.uuid4().hex}"
    if os.path.exists(final):
        os.rename(final, retired)
    os.rename(staging, final)
    shutil.rmtree(retired, ignore_errors=True)


SHARD_FLUSH_S = 2.0  # the most often record_shard rewrites manifest.json


class RunStore:
    def __init__(self, root: str):
        self.fs, path = pafs.FileSystem.from_uri(root) if "://" in root else (pafs.LocalFileSystem(), root)
        if isinstance(self.fs, pafs.LocalFileSystem):
            path = os.path.abspath(path)
        self.root = path.rstrip("/")
        self.fs.create_dir(self.root, recursive=True)
        self._manifest_lock = threading.Lock()
        self._pending_shards: list[tuple[str, str, dict[str, Any]]] = []  # recorded, not yet in manifest.json
        self._flushed_at = float("-inf")

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
        temp = posixpath.join(directory, f"{TEMP_PREFIX}{uuid.uuid4().hex}.parquet")
        try:
            with self.fs.open_output_stream(temp) as sink:
                pq.write_table(table, sink)
            self.fs.move(temp, final)
        except BaseException:
            self._remove_quietly(temp)
            raise
        return final

    def _remove_quietly(self, path: str) -> None:
        try:
            self.fs.delete_file(path)
        except OSError:
            pass

    def remove_temp_files(self) -> list[str]:
        """Delete temp files and staging dirs a killed or failed process left in the run dir; returns them."""
        removed = []
        for info in self.fs.get_file_info(pafs.FileSelector(self.root, recursive=True, allow_not_found=True)):
            base = posixpath.basename(info.path)
            if info.type == pafs.FileType.File and (base.startswith(TEMP_PREFIX) or ".tmp-" in base or base.endswith(".tmp")):
                self._remove_quietly(info.path)
                removed.append(info.path)
            elif info.type == pafs.FileType.Directory and STAGING_MARK in base:
                if self._exists(info.path):
                    self.fs.delete_dir(info.path)
                removed.append(info.path)
        return removed

    def shard_paths(self, stage: str) -> list[str]:
        directory = self.path(stage)
        if not self._exists(directory):
            return []
        infos = self.fs.get_file_info(pafs.FileSelector(directory, recursive=False))
        names = sorted(i.path for i in infos if posixpath.basename(i.path).startswith("shard-") and i.path.endswith(".parquet"))
        return names

    def iter_shards(self, stage: str, columns: list[str] | None = None) -> Iterator[pa.Table]:
        """The stage's shards in order; with `columns`, only those of them a shard has (a counting
        pass then skips the large text and meta columns)."""
        for path in self.shard_paths(stage):
            with self.fs.open_input_file(path) as f:
                if columns is None:
                    yield pq.read_table(f)
                else:
                    parquet = pq.ParquetFile(f)
                    yield parquet.read(columns=[c for c in columns if c in parquet.schema_arrow.names])

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
        try:
            with self.fs.open_output_stream(temp) as f:
                f.write(text.encode("utf-8"))
            self.fs.move(temp, path)
        except BaseException:
            self._remove_quietly(temp)
            raise
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
        """Read, change and rewrite the manifest under the lock (threads may finish shards at once);
        shards recorded since the last write go in with the change."""
        with self._manifest_lock:
            manifest = self.manifest()
            pending, self._pending_shards = self._pending_shards, []
            for stage, name, info in pending:
                manifest["stages"].setdefault(stage, {"shards": {}}).setdefault("shards", {})[name] = info
            for stage in {stage for stage, _, _ in pending}:  # each stage's total once, not once per shard
                entry = manifest["stages"][stage]
                entry["rows"] = sum(s["rows"] for s in entry["shards"].values())
            yield manifest
            manifest["updated"] = time.time()
            self.write_text("manifest.json", json.dumps(manifest, indent=2, sort_keys=True))
            self._flushed_at = time.monotonic()

    def record_shard(self, stage: str, shard: int | str, rows: int, seconds: float, **extra: Any) -> None:
        """Note a completed shard in the manifest (after the shard file exists).

        The manifest is rewritten whole, so it is written at most once per SHARD_FLUSH_S (and with any
        other manifest change, such as the stage's end): once per shard, 8,000 small shards took 220 s.
        Resume does not read these entries (it lists the shard files), so a kill losing the last few
        seconds of them loses nothing."""
        info = {"rows": rows, "seconds": round(seconds, 3), **extra}
        with self._manifest_lock:
            self._pending_shards.append((stage, self.shard_name(shard), info))
            due = time.monotonic() - self._flushed_at >= SHARD_FLUSH_S
        if due:
            self.flush_manifest()

    def flush_manifest(self) -> None:
        """Write the shards recorded since the last manifest write."""
        with self._edit_manifest():
            pass

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
