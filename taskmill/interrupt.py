"""Ctrl-C during `taskmill run`: stop within seconds, say how to resume, leave nothing half-written.

Python turns SIGINT into KeyboardInterrupt in the main thread only; the run's work is in
Prefect's, Ray's and the generation loops' threads, and waiting for them to wind down
took more than 30 s. Nothing needs that wait: every shard, stage and export is written
to a temp file and renamed (taskmill/store.py), the next run removes stray temp files,
and the run directory's lock is an OS file lock that goes with the process. So the
first Ctrl-C marks the Prefect flow run Crashed (so the UI does not show a run that is
no longer running), shuts Ray down (this run's own Ray and its engine actors; a shared
cluster drops the job's actors), and exits with 130. Each step has a deadline; a
second Ctrl-C, or the deadline, exits at once. When the flow run cannot be marked (the
embedded Prefect server got the same Ctrl-C and is gone), the next run of the same
config marks it Crashed under the run directory's lock (flows/pipeline.py).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from typing import Any, Callable

EXIT_CODE = 130  # 128 + SIGINT, what a shell reports for a process Ctrl-C stopped
DEADLINE_S = 10.0  # the most the clean-up may take before the process exits anyway


def _mark_flow_run_crashed(flow_run_id: Any) -> None:
    from prefect.client.orchestration import get_client
    from prefect.states import Crashed

    with get_client(sync_client=True) as client:
        client.set_flow_run_state(flow_run_id, Crashed(message="interrupted (Ctrl-C); rerun the config to resume"), force=True)


def _shutdown_ray() -> None:
    import ray

    if ray.is_initialized():
        ray.shutdown()


def exit_on_interrupt(run_dir: str, *, exit: Callable[[int], None] = os._exit) -> Callable[[], None]:
    """Install the SIGINT handler for a run in `run_dir`; returns a function that restores the old one.

    `exit` is os._exit (no atexit hooks, no thread joins: that wait is what this avoids); tests pass
    their own. Must be called from the main thread (Python's rule for signal handlers).
    """
    previous = signal.getsignal(signal.SIGINT)
    state = {"interrupted": False}

    def handler(signum: int, frame: Any) -> None:
        if state["interrupted"]:  # a second Ctrl-C: no more waiting
            exit(EXIT_CODE)
            return
        state["interrupted"] = True
        sys.stderr.write(
            f"\ninterrupted: stopping. Finished shards and stages are saved in {run_dir}; "
            "run the same config again to resume.\n"
        )
        sys.stderr.flush()
        # What the dying threads log from here on (Ray's ActorDiedError, Prefect's task failures) is the
        # stop itself, not a fault: keep it out of the terminal
        logging.disable(logging.CRITICAL)
        from prefect.context import FlowRunContext

        context = FlowRunContext.get()  # the handler runs in the main thread, inside the flow's context
        flow_run_id = context.flow_run.id if context is not None and context.flow_run is not None else None
        steps = ([lambda: _mark_flow_run_crashed(flow_run_id)] if flow_run_id else []) + [_shutdown_ray]
        worker = threading.Thread(target=lambda: [_quietly(step) for step in steps], name="taskmill-interrupt", daemon=True)
        worker.start()
        worker.join(DEADLINE_S)
        exit(EXIT_CODE)

    signal.signal(signal.SIGINT, handler)
    return lambda: signal.signal(signal.SIGINT, previous)


def _quietly(step: Callable[[], None]) -> None:
    try:
        step()
    except Exception as exc:  # noqa: BLE001 - best effort: the exit must happen whatever fails here
        sys.stderr.write(f"  (while stopping: {type(exc).__name__}: {exc})\n")


__all__ = ["DEADLINE_S", "EXIT_CODE", "exit_on_interrupt"]
