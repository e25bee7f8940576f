"""Throughput of the SQL-execution generator over the bundled tables.

Measures, in one run:
- verified tasks per CPU-second of one process, i.e. on one core (every kept task was executed in the
  sandbox and returned 1–10 answers), the generator as configured: one row
  sample and database per `queries_per_view` (16) task slots;
- the baseline: the same generator with a fresh row sample, database load
  and rendering for every task slot (`queries_per_view=1`);
- the same work as Ray tasks (`num_cpus=1` each) on all cores;
- the reject rate of each reason, over all candidates of the one-core run.

Table loading counts as work in every run, including the table's token costs
(each distinct cell counted with the SmolLM2 tokenizer for `table_budget`);
loading the tokenizer itself happens once per process, before the timed runs.

Prints one JSON line per figure. `--quick` runs a smaller workload.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from generators.sql import REJECT_CODES, SqlExecConfig, SqlExecGenerator  # noqa: E402
from generators.sql import generator as generator_module  # noqa: E402
from generators.sql.tokens import token_counter  # noqa: E402

GOAL_PER_CORE = 2000.0


def run_serial(config: SqlExecConfig, seed: int) -> tuple[float, float, int, Counter, int]:
    """(CPU seconds, wall seconds, kept, reject counts, candidates) of one in-process run."""
    generator_module._CACHE.clear()  # table loading counts as part of the work
    generator = SqlExecGenerator(config, seed)
    started, cpu_started = time.perf_counter(), time.process_time()
    kept, candidates, reasons = 0, 0, Counter()
    for shard in generator.plan_shards([]):
        out = generator.run_shard(shard)
        kept += len(out.kept)
        candidates += out.stats["candidates"]
        reasons.update(out.stats["rejects"])
    return time.process_time() - cpu_started, time.perf_counter() - started, kept, reasons, candidates


def run_ray(config: SqlExecConfig, seed: int, cpus: int) -> tuple[float, int]:
    import ray

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False)
    try:
        generator = SqlExecGenerator(config, seed)

        @ray.remote(num_cpus=1)
        def run_shard(gen: SqlExecGenerator, shard: dict) -> int:
            return len(gen.run_shard(shard).kept)

        shards = generator.plan_shards([])
        ref = ray.put(generator)
        # Warm the workers (process start, imports) outside the timed region.
        ray.get([run_shard.remote(ref, dict(shards[0], slots=[0, 1])) for _ in range(cpus * 2)])
        started = time.perf_counter()
        kept = sum(ray.get([run_shard.remote(ref, shard) for shard in shards]))
        return time.perf_counter() - started, kept
    finally:
        ray.shutdown()


def emit(metric: str, value: float, unit: str, baseline: float | None = None, goal: float | None = None) -> None:
    print(json.dumps({"metric": metric, "value": round(value, 4), "unit": unit, "baseline": baseline, "goal": goal}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smaller workload (about 10 s)")
    parser.add_argument("--tasks-per-table", type=int, default=None)
    parser.add_argument("--ray-cpus", type=int, default=2)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    per_table = args.tasks_per_table or (150 if args.quick else 1000)
    config = SqlExecConfig(tasks_per_table=per_table, shard_size=250)
    baseline_config = config.model_copy(update={"queries_per_view": 1})
    token_counter(config.tokenizer)  # once per process, as in a Ray worker; not part of the timed work

    base_cpu, base_wall, base_kept, _, _ = run_serial(baseline_config, args.seed)
    cpu, wall, kept, reasons, candidates = run_serial(config, args.seed)
    ray_seconds, ray_kept = run_ray(config, args.seed, args.ray_cpus)
    if ray_kept != kept:
        raise SystemExit(f"Ray run kept {ray_kept} tasks, the serial run {kept}: not deterministic")

    # Per core = per CPU-second of the one generating process: on a shared
    # machine the wall clock also counts time other processes held the core.
    per_core = kept / cpu
    baseline = base_kept / base_cpu
    print(
        f"# {kept} verified tasks from {candidates} candidates ({config.tasks_per_table} slots per table); "
        f"one core {cpu:.2f} s CPU / {wall:.2f} s wall ({kept / wall:.0f} tasks/s wall); "
        f"baseline (queries_per_view=1) {base_cpu:.2f} s CPU; Ray x{args.ray_cpus} {ray_seconds:.2f} s wall; "
        f"load average {os.getloadavg()[0]:.1f}",
        file=sys.stderr,
    )
    emit("sql_tasks_per_s_per_core", per_core, "tasks/s", round(baseline, 1), GOAL_PER_CORE)
    ray_rate = ray_kept / ray_seconds
    emit("sql_tasks_per_s_ray_all_cores", ray_rate, "tasks/s", round(per_core, 1), GOAL_PER_CORE * args.ray_cpus)
    for code in REJECT_CODES:
        emit(f"sql_reject_rate_{code}", reasons.get(code, 0) / max(1, candidates), "fraction of candidates")


if __name__ == "__main__":
    main()
