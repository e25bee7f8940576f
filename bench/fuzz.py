"""Fuzz figure: malformed inputs that end in a traceback, a hang or a silent loss.

Builds the seeded cases of `tests/fuzz/cases.py` (documents, tables, task files,
configs) and runs each through `tests/fuzz/harness.py` in a worker process, once
for this tree and, with `--baseline-tree`, once for another checkout (e.g. main
before issue 9) on the very same files. Each case runs in a forked child with an
address-space cap and a wall-clock limit, so an alias bomb or a hang in C code costs
only that case (counted as unhandled), not the machine's memory.

    python bench/fuzz.py [--seed 0] [--baseline-tree /path/to/other/checkout] [--show 20]

Ends with one JSON line per figure: `fuzz_cases` and `fuzz_unhandled` (goal 0).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MEMORY_CAP_BYTES = 6 * 2**30  # address space per case
CASE_TIMEOUT_S = 60  # wall clock per case (the harness's own alarm is 30 s; this catches hangs in C code)


PRELOAD = ("taskmill.config", "taskmill.sources", "taskmill.preflight", "generators.sql", "generators.bonito",
           "generators.self_guide.config", "filters", "selection", "pyarrow.parquet")  # fmt: skip


def _isolated(case, timeout_s: float) -> dict:
    """Run one case in a forked child: a hang in C code or a memory blow-up only costs that child."""
    import resource
    import select
    import signal

    from tests.fuzz.harness import run_case

    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(read_end)
        try:
            resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP_BYTES, MEMORY_CAP_BYTES))
            outcome = run_case(case)
            result = {"status": outcome.status, "detail": outcome.detail[:500]}
        except BaseException as exc:  # noqa: BLE001 — MemoryError and the like, outside run_case's net
            result = {"status": "unhandled", "detail": f"{type(exc).__name__}: {str(exc)[:400]}"}
        os.write(write_end, json.dumps(result).encode())
        os._exit(0)
    os.close(write_end)
    ready, _, _ = select.select([read_end], [], [], timeout_s)
    if not ready:
        os.kill(pid, signal.SIGKILL)
    chunks = []
    while ready:
        chunk = os.read(read_end, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(read_end)
    _, status = os.waitpid(pid, 0)
    if not ready:
        return {"status": "unhandled", "detail": f"hang: killed after {timeout_s:.0f} s"}
    if not chunks:
        return {"status": "unhandled", "detail": f"crashed (wait status {status})"}
    return json.loads(b"".join(chunks))


def _worker(root: str, seed: int) -> None:
    import importlib

    # bench/ is sys.path[0] for a script, and bench/generators.py would shadow the `generators` package
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]
    for module in PRELOAD:  # imported once here, so each forked case starts warm
        try:
            importlib.import_module(module)
        except ImportError:
            pass  # an older tree without that module
    from tests.fuzz.cases import build_cases

    out = []
    for case in build_cases(root, seed):
        start = time.perf_counter()
        result = _isolated(case, CASE_TIMEOUT_S)
        if time.perf_counter() - start > 5:
            print(f"  slow case {case.name}: {time.perf_counter() - start:.0f} s ({result['status']})", file=sys.stderr, flush=True)
        out.append({"name": case.name, "kind": case.kind, **result})
    json.dump(out, sys.stdout)


def _run_tree(tree: str, seed: int) -> tuple[list[dict], float]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([tree, REPO]), "HF_HUB_OFFLINE": "1"}
    with tempfile.TemporaryDirectory(prefix="taskmill-fuzz-") as root:
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, __file__, "--worker", root, "--seed", str(seed)],
            env=env, cwd=root, stdout=subprocess.PIPE, text=True, check=False,
        )  # fmt: skip
        seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"fuzz worker for {tree} failed (exit {done.returncode}); its stderr is above")
    return json.loads(done.stdout), seconds


def _tree_name(tree: str) -> str:
    sha = subprocess.run(["git", "-C", tree, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    branch = subprocess.run(["git", "-C", tree, "rev-parse", "--abbrev-ref", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", tree, "status", "--porcelain"], capture_output=True, text=True).stdout.strip()
    return f"{branch}@{sha}{'+uncommitted' if dirty else ''}" if sha else tree


def _summary(label: str, outcomes: list[dict], seconds: float, show: int) -> int:
    statuses = Counter((o["kind"], o["status"]) for o in outcomes)
    unhandled = [o for o in outcomes if o["status"] == "unhandled"]
    print(f"{label}: {len(outcomes)} cases in {seconds:.1f} s; unhandled {len(unhandled)}")
    for kind in sorted({o["kind"] for o in outcomes}):
        row = ", ".join(f"{s} {statuses[(kind, s)]}" for s in ("error", "handled", "unhandled"))
        print(f"  {kind:<10} {row}")
    for o in unhandled[:show]:
        print(f"    {o['name']}: {o['detail'][:200]}")
    return len(unhandled)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--baseline-tree", default=None, help="another checkout to run the same cases against")
    parser.add_argument("--show", type=int, default=15, help="unhandled cases listed per tree")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        _worker(args.worker, args.seed)
        return
    outcomes, seconds = _run_tree(REPO, args.seed)
    unhandled = _summary(f"this tree ({_tree_name(REPO)})", outcomes, seconds, args.show)
    baseline_name, baseline_unhandled = "none run (pass --baseline-tree)", None
    if args.baseline_tree:
        baseline_name = _tree_name(args.baseline_tree)
        base_outcomes, base_seconds = _run_tree(os.path.abspath(args.baseline_tree), args.seed)
        baseline_unhandled = _summary(f"baseline ({baseline_name})", base_outcomes, base_seconds, args.show)
    figures = [
        {"metric": "fuzz_cases", "value": len(outcomes), "unit": "cases", "baseline": f"seed {args.seed}", "goal": ">= 300"},
        {"metric": "fuzz_unhandled", "value": unhandled, "unit": "cases",
         "baseline": f"{baseline_unhandled} on {baseline_name}" if baseline_unhandled is not None else baseline_name, "goal": 0},
    ]  # fmt: skip
    for figure in figures:
        print(json.dumps(figure))


if __name__ == "__main__":
    main()
