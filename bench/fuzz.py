"""Fuzz figure: malformed inputs that end in a traceback, a hang or a silent loss.

Builds the seeded cases of `tests/fuzz/cases.py` (documents, tables, task files,
configs) and runs each through `tests/fuzz/harness.py` in a worker process, once
for this tree and, with `--baseline-tree`, once for another checkout (e.g. main
before issue 9) on the very same files. Workers run with an address-space cap so
an alias bomb cannot take the machine's memory.

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
MEMORY_CAP_BYTES = 6 * 2**30  # address space per worker


def _worker(root: str, seed: int) -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP_BYTES, MEMORY_CAP_BYTES))
    # bench/ is sys.path[0] for a script, and bench/generators.py would shadow the `generators` package
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]
    from tests.fuzz.cases import build_cases
    from tests.fuzz.harness import Outcome, run_case

    out = []
    for case in build_cases(root, seed):
        start = time.perf_counter()
        try:
            outcome = run_case(case)
        except MemoryError:
            outcome = Outcome(case, "unhandled", "MemoryError (address-space cap reached)")
        if time.perf_counter() - start > 5:
            print(f"  slow case {case.name}: {time.perf_counter() - start:.0f} s ({outcome.status})", file=sys.stderr, flush=True)
        out.append({"name": case.name, "kind": case.kind, "status": outcome.status, "detail": outcome.detail[:500]})
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
