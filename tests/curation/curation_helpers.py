"""Small record builders shared by the curation tests."""

from __future__ import annotations

import itertools

from taskmill.records import make_record, to_table

_SOURCES = itertools.count()


def rec(instruction: str = "Q?", output: str = "4", *, source_id: str | None = None, method: str = "test", **fields) -> dict:
    """A record with a fresh source id (so ids differ even when the texts are equal)."""
    source = source_id if source_id is not None else f"src-{next(_SOURCES)}"
    return make_record(method=method, source_id=source, instruction=instruction, output=output, **fields)


def run_curate(shards_records: list[list[dict]], config=None, **kwargs):
    """curate() over in-memory shards; returns (report, kept records, reject records)."""
    from filters import curate
    from taskmill.records import from_table

    tables = [to_table(records) for records in shards_records]
    kept, rejects = [], []
    report = curate(
        lambda: iter(tables), config, write_kept=kept.append, write_rejects=rejects.append, **kwargs
    )
    flatten = lambda ts: [r for t in ts for r in from_table(t)]  # noqa: E731
    return report, flatten(kept), flatten(rejects)
