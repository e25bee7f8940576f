"""The run's documents as a stream: written once to `sources/` in the run dir, read back in batches.

The sources stage reads every source with `taskmill.sources.iter_documents`
and writes the documents to `<run_dir>/sources/shard-NNNNN.parquet`, `SHARD_ROWS`
at a time, so the driver holds one shard of documents whatever the corpus size.
Generators then get a `DocumentStream`: a re-iterable view of those shards
that reads one Parquet record batch at a time. The stored order is the read
order, and shard files are numbered in that order, so the stream's content
and order depend on the sources only (never on batch sizes or timing), and
the shard plans built from it are the same on every rerun.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

import pyarrow as pa
import pyarrow.parquet as pq

from taskmill.sources import SourceConfig, SourceReport, iter_documents
from taskmill.store import RunStore

DOCUMENTS_STAGE = "sources"
SHARD_ROWS = 10_000  # documents per stored shard (bounded by max_chars, so a shard stays a few MB)
READ_ROWS = 1_024  # documents per record batch when reading back
DOCUMENT_SCHEMA = pa.schema([("id", pa.string()), ("text", pa.string()), ("source", pa.string())])


class DocumentStream:
    """The documents of a run dir's `sources/` stage, re-iterable, one record batch in memory at a time.

    `len()` is the number of documents (known from the write). Iterating yields
    {"id", "text", "source"} dicts in read order. Only the run dir path is held,
    so the object is cheap to pass to Prefect tasks and threads.
    """

    def __init__(self, run_dir: str, count: int):
        self.run_dir = run_dir
        self.count = count

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[dict]:
        store = RunStore(self.run_dir)
        for path in store.shard_paths(DOCUMENTS_STAGE):
            with store.fs.open_input_file(path) as handle:
                for batch in pq.ParquetFile(handle).iter_batches(batch_size=READ_ROWS):
                    yield from batch.to_pylist()

    def __repr__(self) -> str:
        return f"DocumentStream({self.run_dir!r}, {self.count} documents)"


def write_documents(
    run_dir: str, sources: list[SourceConfig], on_report: Callable[[dict[str, Any]], None] | None = None
) -> tuple[DocumentStream, list[dict[str, Any]]]:
    """Read `sources` in order into `run_dir`'s `sources/` stage; returns the stream and one report per source.

    The stage is rewritten on every run (sources are cheap to read and may have changed);
    each shard is written atomically. `on_report(report)` is called as each source ends.
    Raises `SourceError` (from the readers) for an unreadable source or a bad row under
    `on_error: raise`; shards written before it are removed with the stage on the next run.
    """
    store = RunStore(run_dir)
    store.clear_stage(DOCUMENTS_STAGE)
    reports: list[dict[str, Any]] = []
    batch: list[dict] = []
    shards = total = 0

    def flush() -> None:
        nonlocal batch, shards
        store.write_shard(DOCUMENTS_STAGE, shards, pa.Table.from_pylist(batch, schema=DOCUMENT_SCHEMA))
        shards += 1
        batch = []

    for source in sources:
        report = SourceReport(source)
        for doc in iter_documents(source, report):
            batch.append(doc)
            if len(batch) >= SHARD_ROWS:
                flush()
        total += report.documents
        reports.append(report.as_dict())
        if on_report:
            on_report(reports[-1])
    if batch:
        flush()
    store.mark_stage_done(DOCUMENTS_STAGE, documents=total, shards=shards)
    return DocumentStream(run_dir, total), reports
