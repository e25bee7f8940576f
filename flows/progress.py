"""Progress while a run happens: per-stage progress artifacts, the stage table, the terminal lines.

- `StageProgress`: one Prefect progress artifact per stage, moved as the stage's
  units of work end (generation and SQL shards, curation passes, selection and
  export steps).
- `StageBoard`: per run, the stage table (records in, kept, rejected by reason,
  seconds, records/s, tokens/s). Each stage end prints one terminal line and
  publishes the table again under the run's `<key>-stages` artifact key (table
  artifacts cannot be edited; a new version under the same key is the update,
  and the UI shows the latest).
- `LiveGeneration`: the live terminal line of the generation stages running
  side by side (shards done / planned and requests answered per stage).

Prefect's artifact functions dispatch on context: inside an event loop without a
Prefect run context (the generation loops run in their own thread) the plain
call returns a coroutine that nobody awaits, so every call here passes
`_sync=True`. Artifact calls never fail a stage: a Prefect API hiccup costs a
progress update, logged, not the run.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable
from uuid import UUID

import pyarrow.parquet as pq

from taskmill.logs import TERMINAL, Terminal, stage_line
from taskmill.store import RunStore

log = logging.getLogger(__name__)


def artifact_key(run_id: str) -> str:
    """Artifact keys allow lowercase letters, digits and dashes only."""
    return "".join(c if c.isalnum() else "-" for c in run_id.lower())[:100]


def _quietly(what: str, call: Callable[[], Any]) -> Any:
    try:
        return call()
    except Exception as exc:  # noqa: BLE001 - progress display must not fail the run
        log.warning("could not publish %s: %s", what, exc)
        return None


class StageProgress:
    """A progress artifact for one stage; `advance(done, total)` moves it (percent, 0-100).

    Updates go out at most once per `min_interval_s` (the last one, 100%, always): each is a
    Prefect API call, and a stage of 800 two-record shards made 1,600 of them, most of its time.
    """

    min_interval_s = 1.0

    def __init__(self, stage: str, description: str):
        from prefect.artifacts import create_progress_artifact
        from prefect.context import FlowRunContext, TaskRunContext

        self.stage = stage
        self.last = 0.0
        self.sent_at = 0.0  # time.monotonic() of the last update sent
        self.id: UUID | None = None
        if FlowRunContext.get() or TaskRunContext.get():  # not for a stage called outside a run (`taskmill export`)
            self.id = _quietly(
                f"{stage} progress", lambda: create_progress_artifact(progress=0.0, description=f"{stage}: {description}", _sync=True)
            )

    def advance(self, done: float, total: float) -> None:
        self.set(100.0 * done / total if total else 100.0)

    def set(self, percent: float) -> None:
        from prefect.artifacts import update_progress_artifact

        percent = round(min(100.0, max(self.last, percent)), 1)  # never moves back
        if self.id is None or percent == self.last:
            return
        now = time.monotonic()
        if percent < 100.0 and now - self.sent_at < self.min_interval_s:
            return  # not recorded as sent: a later call (at the latest done()) brings the artifact up to date
        self.last, self.sent_at = percent, now
        _quietly(f"{self.stage} progress", lambda: update_progress_artifact(self.id, progress=percent, _sync=True))

    def done(self) -> None:
        self.set(100.0)


def stage_counts(store: RunStore, kept_stage: str, rejects_stage: str | None = None) -> dict[str, Any]:
    """Kept rows, rejects by reason and completion tokens of a stage on disk (two columns read per shard)."""
    out: dict[str, Any] = {"kept": 0, "rejected": {}, "completion_tokens": 0}
    for stage, kept in ((kept_stage, True), (rejects_stage, False)):
        if stage is None:
            continue
        for path in store.shard_paths(stage):
            with store.fs.open_input_file(path) as f:
                table = pq.read_table(f, columns=["reject_reason", "completion_tokens"])
            out["completion_tokens"] += sum(n or 0 for n in table["completion_tokens"].to_pylist())
            if kept:
                out["kept"] += table.num_rows
                continue
            for reason in table["reject_reason"].to_pylist():
                reason = reason or "(none)"
                out["rejected"][reason] = out["rejected"].get(reason, 0) + 1
    return out


def _reasons_text(rejected: dict[str, int]) -> str:
    return ", ".join(f"{reason} {n}" for reason, n in sorted(rejected.items(), key=lambda kv: (-kv[1], kv[0]))) or "-"


def _line_note(note: str, rejected: dict[str, int], shown: int = 2) -> str:
    """The terminal line's note: the stage's note, then its most common reject reasons."""
    if not rejected:
        return note
    top = sorted(rejected.items(), key=lambda kv: (-kv[1], kv[0]))
    reasons = ", ".join(f"{reason} {n}" for reason, n in top[:shown]) + (f", +{len(top) - shown} more" if len(top) > shown else "")
    return f"{note}; rejected: {reasons}" if note else f"rejected: {reasons}"


class StageBoard:
    """The stage table of one run, in the terminal (a line per stage) and as a Prefect table artifact."""

    def __init__(self, run_id: str, terminal: Terminal | None = TERMINAL, publish: bool = True):
        self.key = f"{artifact_key(run_id)}-stages"
        self.rows: list[dict[str, Any]] = []
        self.terminal = terminal
        self.publish = publish
        self._lock = threading.Lock()

    def stage_done(
        self, stage: str, records_in: int | None, kept: int | None, seconds: float,
        rejected: dict[str, int] | None = None, tokens: int | None = None, note: str = "",
    ) -> dict[str, Any]:  # fmt: skip
        """Add a row (`tokens`: completion tokens generated this run), print its line, publish the table."""
        seconds = max(0.0, float(seconds))
        row = {
            "stage": stage,
            "in": records_in if records_in is not None else "-",
            "kept": kept if kept is not None else "-",
            "rejected": _reasons_text(rejected or {}),
            "seconds": round(seconds, 1),
            "records/s": round(records_in / seconds, 1) if records_in and seconds > 0 else "-",
            "tokens/s": round(tokens / seconds, 1) if tokens and seconds > 0 else "-",
            "note": note,
        }
        with self._lock:
            self.rows.append(row)
            rows = [dict(r) for r in self.rows]
            if self.terminal is not None:
                self.terminal.line(stage_line(stage, records_in, kept, seconds, _line_note(note, rejected or {})))
            if self.publish:
                from prefect.artifacts import create_table_artifact

                _quietly(
                    "stage table",
                    lambda: create_table_artifact(table=rows, key=self.key, description="stages so far: in, kept, rejected by reason, seconds, records/s, tokens/s", _sync=True),
                )
        return row


_BOARDS: dict[str, StageBoard] = {}
_BOARDS_LOCK = threading.Lock()


def open_board(run_dir: str, run_id: str, publish: bool = True) -> StageBoard:
    """A fresh stage table for a run starting now; stages running in threads find it by the same
    `run_dir` string (`RunConfig.run_dir`, not `RunStore.root`, which is absolute or scheme-less)."""
    with _BOARDS_LOCK:
        _BOARDS[run_dir] = StageBoard(run_id, publish=publish)
        return _BOARDS[run_dir]


def close_board(run_dir: str) -> None:
    """The run ended: later stage calls on this run dir (`taskmill export`) get a silent table."""
    with _BOARDS_LOCK:
        _BOARDS.pop(run_dir, None)


def board_for(run_dir: str) -> StageBoard:
    """The run's stage table; a silent one when the stage runs outside `pipeline` (`taskmill export`, a test)."""
    with _BOARDS_LOCK:
        if run_dir not in _BOARDS:
            _BOARDS[run_dir] = StageBoard(run_dir, terminal=None, publish=False)
        return _BOARDS[run_dir]


def generation_done(run_dir: str, store: RunStore, name: str, report: dict[str, Any], kept_stage: str, rejects_stage: str) -> dict[str, Any]:
    """The row of a generator stage: candidates on disk (resumed shards included), tokens generated this run.

    `run_dir` as in the config (`RunConfig.run_dir`): the stage table is found by it, as `open_board` was given it.
    """
    LIVE.finish(name)
    counts = stage_counts(store, kept_stage, rejects_stage)
    candidates = counts["kept"] + sum(counts["rejected"].values())
    note = f"{report.get('shards', 0)} shards"
    if report.get("resumed"):
        note += f", {report['resumed']} done earlier"
    if report.get("requests"):
        note += f", {report['requests']} requests"
    return board_for(run_dir).stage_done(
        f"generate-{name}", candidates, counts["kept"], report.get("seconds", 0.0),
        rejected=counts["rejected"], tokens=report.get("completion_tokens"), note=note,
    )  # fmt: skip


class LiveGeneration:
    """The live line of the generation stages running now: `bonito 3/5 shards 120 req | sql 2/9 shards`."""

    def __init__(self, terminal: Terminal = TERMINAL):
        self.terminal = terminal
        self.stages: dict[str, dict[str, int]] = {}
        self.started = time.monotonic()
        self._lock = threading.Lock()

    def start(self, name: str, shards: int, done: int = 0) -> None:
        with self._lock:
            if not self.stages:
                self.started = time.monotonic()
            self.stages[name] = {"shards": shards, "done": done, "requests": 0}
        self._draw()

    def request_done(self, name: str) -> None:
        with self._lock:
            if name in self.stages:
                self.stages[name]["requests"] += 1
        self._draw()

    def shard_done(self, name: str) -> None:
        with self._lock:
            if name in self.stages:
                self.stages[name]["done"] += 1
        self._draw(force=True)

    def finish(self, name: str) -> None:
        with self._lock:
            self.stages.pop(name, None)
            empty = not self.stages
        if empty:
            self.terminal.end_live()

    def _draw(self, force: bool = False) -> None:
        with self._lock:
            parts = [
                f"{name} {s['done']}/{s['shards']} shards" + (f" {s['requests']} req" if s["requests"] else "")
                for name, s in self.stages.items()
            ]
            elapsed = time.monotonic() - self.started
        if parts:
            self.terminal.live(f"  generating: {' | '.join(parts)}  ({elapsed:.0f} s)", min_interval_s=0.0 if force else 0.25)


LIVE = LiveGeneration()
