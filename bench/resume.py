"""Resume after SIGKILL: are the exports byte-identical, and what does resuming cost?

Baseline: an uninterrupted run of the same config (tests/ops/chaos.py: Bonito
on a scripted engine plus SQL on a CSV table, real Prefect API and real Ray),
measured in this process's session after one warm-up run. Each trial starts from an empty run
directory, SIGKILLs the run's process group at a random point of the
baseline's duration, reruns it to the end, and compares every export file
with the baseline's, byte for byte.

The default size (800 documents, 1,600 Bonito requests answered 6 s after they are sent with up to
128 in flight, about 21 requests/s as from a GPU engine: about 90 s of generation) makes generation most of the run,
as it is in a real one; `--docs 8 --request-delay 0.05` is the test suite's 12-second config,
where start-up and export are most of the run and the ratio is about 1.6 (a resume pays start-up
again, whatever it skips).

    resume_trials               trials run (goal >= 10)
    resume_identical_fraction   share of trials whose every export file is identical (goal 1.0)
    resume_overhead_ratio       sum of resumed-run times / sum of the times the baseline spent on the
                                work each resumed run had left (goal <= 1.1): the baseline's time
                                from the moment it had saved what the killed run had saved (as many
                                generated shards; each whole stage after generation) to its end.
                                Times from the child's READY line (imports done) to its exit
    resume_overhead_ratio_after_kill_point
                                the same over the baseline's time after each kill point: it also
                                counts the work the kill destroyed (requests in flight, a whole
                                stage half done), which a resume must redo: with 6 s requests about
                                3 s a kill on average
    resume_fixed_overhead_s     a rerun of the finished run: the cost every resume pays on top of
                                its remaining work (context for the ratio)

Where a resumed run's time goes (cProfile of a rerun of the finished run, 7.7 s): Python imports
(Prefect, flows, transformers for the export's chat-template token counts: about 5.7 s together),
the Prefect flow run, and the export (always rewritten whole). Engines start only when an LLM
shard is left (flows/generate.py), and Ray is joined, not started, here. With a real vLLM engine a
resume also pays the engine's start-up again (about 40 s on this CPU) if generation was not done.

Usage: python bench/resume.py [--trials N] [--seed S] [--docs N] [--request-delay S]
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import random
import shutil
import sys
import tempfile
import time

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "ops"))
sys.path.insert(0, ROOT)
for key, value in {
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "300", "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "HF_HUB_OFFLINE": "1", "RAY_USAGE_STATS_ENABLED": "0", "TOKENIZERS_PARALLELISM": "false",
}.items():
    os.environ.setdefault(key, value)
os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="taskmill-bench-prefect-"))

import chaos  # noqa: E402  (tests/ops/chaos.py)


GLOBAL_STAGES = ("curated", "roundtrip", "judged", "selected")  # whole stages after generation, in run order


def _shard_files(run_dir: str) -> list[str]:
    return glob.glob(os.path.join(run_dir, "generated", "*", "shard-*.parquet"))


def milestones(run_dir: str, ready: float) -> dict:
    """When (s after READY) the finished baseline run saved each generated shard and ended each whole stage."""
    generated = sorted(os.path.getmtime(p) - ready for p in _shard_files(run_dir))
    stages = {}
    for stage in GLOBAL_STAGES:
        files = [p for p in glob.glob(os.path.join(run_dir, stage, "**", "*"), recursive=True) if os.path.isfile(p)]
        if files:
            stages[stage] = max(os.path.getmtime(p) for p in files) - ready
    return {"generated": generated, "stages": stages}


def time_of_saved_state(run_dir: str, saved_at: dict) -> float:
    """The baseline's time at which it had saved what the killed run in `run_dir` saved (0.0: nothing)."""
    manifest = os.path.join(run_dir, "manifest.json")  # absent when killed before its first write
    stages = {}
    if os.path.exists(manifest):
        with open(manifest, encoding="utf-8") as f:
            stages = json.load(f).get("stages", {})
    done = {name for name, stage in stages.items() if stage.get("done")}
    for stage in reversed(GLOBAL_STAGES):
        if stage in done and stage in saved_at["stages"]:
            return saved_at["stages"][stage]
    count = min(len(_shard_files(run_dir)), len(saved_at["generated"]))
    return saved_at["generated"][count - 1] if count else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=10, help="kill-and-resume trials (default 10)")
    parser.add_argument("--seed", type=int, default=13, help="seed of the kill points")
    parser.add_argument("--docs", type=int, default=800, help="documents for Bonito (2 requests each; default 800)")
    parser.add_argument("--request-delay", type=float, default=6.0, help="scripted engine seconds per request (default 6)")
    args = parser.parse_args()
    os.environ["TASKMILL_CHAOS_REQUEST_DELAY_S"] = str(args.request_delay)  # read by the run's child process

    import ray
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    from taskmill.ray_runtime import ensure_ray

    work = tempfile.mkdtemp(prefix="taskmill-bench-resume-")
    with prefect_test_harness(server_startup_timeout=300):
        ensure_ray(num_cpus=2)
        env = {"PREFECT_API_URL": PREFECT_API_URL.value()}
        run_root = os.path.join(work, "runs")
        config_path = os.path.join(work, "chaos.yaml")
        with open(config_path, "w", encoding="utf-8") as f:
            yaml.safe_dump(chaos.chaos_config(run_root, ray.get_runtime_context().gcs_address, docs=args.docs), f)

        # Two uninterrupted runs: the first warms the cluster (worker start-up, JIT caches); the
        # second, like every trial, runs warm and is the baseline for times and bytes.
        cold_s, _ = chaos.run_to_end(config_path, env)
        run_dir = os.path.join(run_root, next(d for d in os.listdir(run_root) if d.startswith("chaos-")))
        shutil.rmtree(run_dir)
        full_s, _ = chaos.run_to_end(config_path, env)
        reference = chaos.export_files(os.path.join(run_dir, "export"))
        saved_at = milestones(run_dir, ready=time.time() - full_s)
        # A rerun of the finished run: what any resumed run pays before and beyond its remaining work
        # (flow run, Ray job and workers, reading the stages back, export).
        fixed_s, _ = chaos.run_to_end(config_path, env)
        print(f"baseline: uninterrupted run {full_s:.1f} s warm ({cold_s:.1f} s cold), {len(reference)} export files", file=sys.stderr)

        rng = random.Random(args.seed)
        identical = resumed_total = remaining_total = left_total = 0.0
        trials = 0
        while trials < args.trials:
            shutil.rmtree(run_dir, ignore_errors=True)
            after = rng.uniform(0.2, full_s)
            if not chaos.run_and_kill(config_path, env, after):
                continue  # finished before the kill point: not a trial (redrawn)
            left = full_s - time_of_saved_state(run_dir, saved_at)
            resumed_s, _ = chaos.run_to_end(config_path, env)
            diff = chaos.differing(reference, chaos.export_files(os.path.join(run_dir, "export")))
            trials += 1
            identical += not diff
            resumed_total += resumed_s
            remaining_total += full_s - after
            left_total += left
            print(f"trial {trials}: killed at {after:.1f} s, baseline work left {left:.1f} s, resumed in {resumed_s:.1f} s, "
                  f"differing files: {diff}", file=sys.stderr)  # fmt: skip
        ray.shutdown()
    shutil.rmtree(work, ignore_errors=True)

    figures = [
        ("resume_trials", trials, "trials", "uninterrupted run", ">= 10"),
        ("resume_identical_fraction", round(identical / trials, 3), "fraction", "uninterrupted run's export files", 1.0),
        ("resume_overhead_ratio", round(resumed_total / left_total, 3), "ratio", "uninterrupted run's time on the work left", "<= 1.1"),
        ("resume_overhead_ratio_after_kill_point", round(resumed_total / remaining_total, 3), "ratio", "uninterrupted run's time after the kill point", "context"),
        ("resume_fixed_overhead_s", round(fixed_s, 1), "s", f"uninterrupted run {full_s:.1f} s ({args.docs} documents, {args.request_delay} s per request)", "context"),
    ]
    for metric, value, unit, baseline, goal in figures:
        print(json.dumps({"metric": metric, "value": value, "unit": unit, "baseline": baseline, "goal": goal}))


if __name__ == "__main__":
    main()
