"""Run one fuzz case the way taskmill would, up to the point an engine would be needed.

- documents: `load_source`, then Bonito's `plan_shards` on what loaded;
- tables: an `sql_exec` config naming the file → `parse_config` → pre-flight →
  `plan_shards` → `run_shard` of every shard (symbolic: no engine);
- task files: Self-Guide's `load_tasks`;
- configs: `load_config` → pre-flight.

A case is handled when it ends in one of taskmill's input errors whose message
names the input (its path, or for a config a field path), or when it returns and
every input unit (row, file, task, task slot) is either kept or counted with a
reason. Anything else is unhandled: another exception (a traceback), a message
that names nothing, a silent loss, or a case running past `CASE_TIMEOUT_S`.
"""

from __future__ import annotations

import os
import re
import signal
import traceback
from dataclasses import dataclass

from tests.fuzz.cases import Case

CASE_TIMEOUT_S = 30


@dataclass
class Outcome:
    case: Case
    status: str  # error | handled | unhandled
    detail: str


class _Timeout(BaseException):  # not Exception: code under test may catch that
    pass


_ERRORS = [("taskmill.config", "ConfigError"), ("taskmill.sources", "SourceError"),
           ("generators.task_specs", "TaskFileError"), ("taskmill.yaml_io", "InputFileError")]  # fmt: skip


def _input_errors() -> tuple[type[BaseException], ...]:
    """taskmill's input errors (those that exist: bench/fuzz.py also runs this against older trees)."""
    import importlib

    found = []
    for module, name in _ERRORS:
        try:
            found.append(getattr(importlib.import_module(module), name))
        except (ImportError, AttributeError):
            continue
    return tuple(found)


def _preflight(cfg) -> None:
    try:
        from taskmill.preflight import preflight
    except ImportError:  # a tree from before pre-flight existed
        return
    preflight(cfg)


def _load_source(cfg) -> tuple[list[dict], dict]:
    import taskmill.sources as sources

    if hasattr(sources, "load_source"):
        return sources.load_source(cfg)
    docs, skipped = sources.load_documents(cfg)  # older trees: counts only
    return docs, {"skipped": {k: v for k, v in skipped.items() if v}}


_FIELD_LINE = re.compile(r"^  [^\s:][^:]*: \S")  # "  <field path>: <problem>"


def names_input(message: str, case: Case) -> bool:
    """The message says where the problem is: the input's path or name, or (configs) a field path."""
    if case.path in message or os.path.basename(case.path.rstrip("/")) in message:
        return True
    if case.kind == "config":
        lines = message.splitlines()
        return len(lines) > 1 and all(_FIELD_LINE.match(line) for line in lines[1:])
    return False


def _documents(case: Case) -> str:
    from generators.bonito import BonitoGenerator
    from taskmill.config import parse_config
    from taskmill.sources import SourceConfig

    options = {k: v for k, v in case.options.items() if k in SourceConfig.model_fields}  # older trees lack on_error
    docs, report = _load_source(SourceConfig(path=case.path, **options))
    accounted = len(docs) + sum(report["skipped"].values())
    if case.units is not None and accounted != case.units:
        raise AssertionError(f"silent loss: {case.units} rows in, {len(docs)} documents + {report['skipped']} skipped")
    for doc in docs:  # what loads must be storable: records are written as UTF-8 Parquet
        doc["text"].encode("utf-8")
    gen = parse_config({"sources": [{"kind": "inline", "texts": ["x"]}], "generators": [{"method": "bonito", "tasks": {"qa": None}}]}).generators[0]
    shards = BonitoGenerator(gen, 0).plan_shards(docs)
    planned = sum(len(s["items"]) for s in shards)
    if planned != len(docs):  # qa: None asks one task per document
        raise AssertionError(f"silent loss: {len(docs)} documents, {planned} planned")
    return f"{len(docs)} documents, skipped {report['skipped']}, {planned} planned"


def _table(case: Case) -> str:
    from generators.sql import SqlExecGenerator
    from taskmill.records import to_table
    from generators.sql.config import TableSource
    from taskmill.config import parse_config

    options = {k: v for k, v in case.options.items() if k in TableSource.model_fields}
    cfg = parse_config({"generators": [{"method": "sql_exec", "bundled": False, "tasks_per_table": 4, "queries_per_view": 2,
                                        "sources": [{"path": case.path, **options}]}]})  # fmt: skip
    _preflight(cfg)
    generator = SqlExecGenerator(cfg.generators[0], 0)
    kept = rejected = 0
    for shard in generator.plan_shards([]):
        out = generator.run_shard(shard, None)
        start, stop = shard["slots"]
        slots = {r["meta"]["slot"] for r in out.kept} | {r["meta"].get("slot") for r in out.rejects}
        if not set(range(start, stop)) <= slots:
            raise AssertionError(f"silent loss: slots {sorted(set(range(start, stop)) - slots)} neither kept nor rejected")
        if any(not r.get("reject_reason") for r in out.rejects):
            raise AssertionError("a reject without its reason")
        to_table(out.kept), to_table(out.rejects)  # both must be storable as the run's Parquet shards
        kept, rejected = kept + len(out.kept), rejected + len(out.rejects)
    return f"{kept} kept, {rejected} rejects"


def _task_file(case: Case) -> str:
    from generators.self_guide.config import SelfGuideConfig

    tasks = SelfGuideConfig(task_files=[case.path]).load_tasks()
    if case.units is not None and len(tasks) != case.units:
        raise AssertionError(f"silent loss: {case.units} tasks in the file, {len(tasks)} loaded")
    return f"{len(tasks)} tasks"


def _config(case: Case) -> str:
    from taskmill.config import load_config

    _preflight(load_config(case.path))
    return "valid"


RUNNERS = {"documents": _documents, "table": _table, "task_file": _task_file, "config": _config}


def run_case(case: Case, timeout_s: int = CASE_TIMEOUT_S) -> Outcome:
    def on_alarm(signum, frame):
        raise _Timeout()

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(timeout_s)
    try:
        detail = RUNNERS[case.kind](case)
        return Outcome(case, "handled", detail)
    except _Timeout:
        return Outcome(case, "unhandled", f"hang: still running after {timeout_s} s")
    except _input_errors() as exc:
        message = str(exc)
        if names_input(message, case):
            return Outcome(case, "error", message)
        return Outcome(case, "unhandled", f"error names no input: {type(exc).__name__}: {message}")
    except Exception as exc:  # noqa: BLE001 — anything else is what the fuzz suite exists to find
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        where = f"{os.path.relpath(frame.filename)}:{frame.lineno}"
        return Outcome(case, "unhandled", f"{type(exc).__name__} at {where}: {str(exc)[:300]}")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
