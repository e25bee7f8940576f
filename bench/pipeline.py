"""Pipeline throughput: a real `taskmill run` generate phase against raw `vllm.LLM.generate`.

1. A real run (the Prefect flow, Ray actor, streaming generate stage) of Bonito
   on >= 100 pydoc documents plus Self-Guide with 4 tasks, packaged model. The
   engine's dispatcher records every request the run sent; the phase is timed
   from the first request submitted to the last result (model load excluded).
   The actor's own busy meter gives `engine_busy_fraction` (share of that wall
   time with >= 1 request inside vLLM) and the mean number of requests in it.
2. The actor is shut down, the same requests (chat template applied, same
   seeded SamplingParams) go through one raw `vllm.LLM.generate` call.
   `pipeline_tokens_ratio` = run completion tokens/s ÷ raw tokens/s.
3. In a child process per size: a whole `taskmill run` (sources, generate,
   curate, select, export) of Bonito over 100k and 1M short JSONL documents
   with a scripted engine; `pipeline_peak_rss_gb_100k_docs` / `_1m_docs` are
   the child's peak RSS at the end, `generate_peak_rss_gb_*` the peak up to the
   end of the generate stage (documents, shards and results streamed, not
   held). Equal figures for both sizes show memory does not grow with the corpus.

    flock /tmp/taskmill-vllm.lock .venv/bin/python bench/pipeline.py [--quick] [--docs 100] [--rss-docs 100000 1000000]
    .venv/bin/python bench/pipeline.py --skip-run            # RSS figures only (no model)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
for key, value in {"PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "300", "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                   "HF_HUB_OFFLINE": "1", "RAY_USAGE_STATS_ENABLED": "0", "TOKENIZERS_PARALLELISM": "false"}.items():  # fmt: skip
    os.environ.setdefault(key, value)

EXTRA_TASKS = [
    {"name": "unit_conversion", "instruction": "Convert the quantity to metric units and give only the result.",
     "examples": [{"input": "5 miles", "output": "8.05 km"}, {"input": "3 pounds", "output": "1.36 kg"},
                  {"input": "12 inches", "output": "30.48 cm"}]},
    {"name": "topic_label", "instruction": "Name the topic of the sentence: sport, weather or food.",
     "labels": ["sport", "weather", "food"],
     "examples": [{"input": "The striker scored twice in the final.", "output": "sport"},
                  {"input": "Expect heavy rain by the evening.", "output": "weather"},
                  {"input": "Simmer the lentils for twenty minutes.", "output": "food"}]},
]  # fmt: skip


def run_config(args: argparse.Namespace, root: str) -> dict:
    return {
        "name": "bench-pipeline",
        "run_root": root,
        "engine": {"name": "packaged:smollm2", "max_model_len": 2048, "max_num_seqs": args.max_num_seqs},
        "sources": [{"kind": "pydoc_topics", "limit": args.docs, "max_chars": 800}],
        "generators": [
            {"method": "bonito", "shard_size": 16, "max_tokens": args.max_tokens, "tasks": {"qa": None}},
            {"method": "self_guide", "task_files": [os.path.join(ROOT, "examples/tasks/self_guide_tasks.yaml")],
             "tasks": EXTRA_TASKS, "rounds": 2, "prompts_per_round": 4, "inputs": {"max_tokens": args.max_tokens},
             "annotation": {"n_annot": 3, "best_of": 5, "max_tokens": 24}},
        ],  # fmt: skip
        "curation": {},
        "selection": {"method": "none"},
        "export": {"formats": ["messages"], "hf_dataset": False},
    }


def replay_raw(settings, requests) -> tuple[int, float]:
    from vllm import LLM

    from taskmill.engine.vllm_backend import llm_kwargs, render_prompt, sampling_params

    llm = LLM(**llm_kwargs(settings))
    tokenizer = llm.get_tokenizer()
    prompts = [render_prompt(tokenizer, r) for r in requests]
    params = [sampling_params(r) for r in requests]
    start = time.perf_counter()
    outputs = llm.generate(prompts, params, use_tqdm=False)
    seconds = time.perf_counter() - start
    return sum(len(c.token_ids) for o in outputs for c in o.outputs), seconds


def pipeline_phase(args: argparse.Namespace) -> dict:
    from prefect.testing.utilities import prefect_test_harness

    from flows.pipeline import pipeline
    from taskmill.config import parse_config
    from taskmill.engine.factory import get_engine, install_engine, shutdown_engines
    from taskmill.ray_runtime import ensure_ray

    root = tempfile.mkdtemp(prefix="taskmill-bench-pipeline-")
    config = run_config(args, root)
    settings = parse_config(config).engine
    ensure_ray(num_cpus=os.cpu_count())
    engine = get_engine(settings)  # model load happens here, before the timed phase
    stream = install_engine(settings, engine, record=True)
    before = engine.busy()[0]
    with prefect_test_harness(server_startup_timeout=300):
        summary = pipeline(config=config)
    after = engine.busy()[0]
    report = stream.report()
    wall = stream.wall_seconds
    busy_s = after["busy_s"] - before["busy_s"]
    area = after["in_flight_s"] - before["in_flight_s"]
    requests = list(stream.recorded or [])
    shutdown_engines()
    tokens, seconds = replay_raw(settings, requests)
    return {
        "run_tokens": report["completion_tokens"], "run_seconds": wall, "requests": len(requests),
        "raw_tokens": tokens, "raw_seconds": seconds, "busy_fraction": min(1.0, busy_s / wall) if wall else 0.0,
        "mean_in_flight": area / wall if wall else 0.0, "driver_busy_fraction": report["busy_fraction"],
        "records": summary["records_per_stage"], "max_in_flight": stream.max_in_flight,
    }  # fmt: skip


def write_short_documents(path: str, docs: int) -> None:
    """`docs` short JSONL documents, written a line at a time (the bench's own input, not measured)."""
    with open(path, "w") as out:
        for i in range(docs):
            out.write(json.dumps({"text": f"Short document {i} about the harbour town and its {i % 97} boats."}) + "\n")


def rss_config(root: str, path: str) -> dict:
    """The smallest real run over a JSONL source: Bonito (JSON replies), cheap curation, no selection."""
    return {
        "name": "bench-rss",
        "run_root": root,
        "engine": {"name": "scripted-rss", "max_model_len": 2048, "max_in_flight": 128},
        "sources": [{"kind": "jsonl", "path": path, "max_chars": 400}],
        "generators": [{"method": "bonito", "prompted_format": "json", "shard_size": 256, "tasks": {"qa": None}}],
        "curation": {"minhash": {"enabled": False}, "decontamination": {"enabled": False}},
        "selection": {"method": "none"},
        "export": {"formats": ["messages"], "hf_dataset": False},
    }


def peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


class _StopRun(Exception):
    """Ends a measured run after the stage named by --rss-stop-after."""


def rss_child(docs: int, stop_after: str | None = None) -> None:
    """A whole `taskmill run` (Prefect flow: sources → generate → curate → select → export) over `docs`
    short JSONL documents with a scripted engine; prints this process's peak RSS (GB) at the end of
    the run and the peak so far as each stage returns."""
    from prefect.testing.utilities import prefect_test_harness

    import flows.pipeline as pipeline_mod
    from taskmill.config import parse_config
    from taskmill.engine.factory import install_engine
    from taskmill.engine.scripted import ScriptedEngine
    from tests.core.streaming_helpers import answer

    work = tempfile.mkdtemp(prefix="taskmill-bench-rss-")
    source = os.path.join(work, "docs.jsonl")
    write_short_documents(source, docs)
    config = rss_config(os.path.join(work, "runs"), source)
    engine = ScriptedEngine(answer, model_name="scripted", record=False)
    engine.max_model_len = 2048  # type: ignore[attr-defined]
    stream = install_engine(parse_config(config).engine, engine, max_in_flight=128)
    phases: dict[str, float] = {"before_run": peak_gb()}

    def measure(stage: str, call):  # the peak RSS so far once `stage` returns (stages run in this order)
        def wrapped(*args, **kwargs):
            out = call(*args, **kwargs)
            phases[f"after_{stage}"] = peak_gb()
            phases[f"{stage}_end_s"] = time.perf_counter() - start
            if stage == stop_after:
                raise _StopRun(stage)
            return out

        return wrapped

    for stage, attr in (("sources", "sources_stage"), ("generate", "_generate_all"), ("curate", "curate_stage"),
                        ("select", "select_stage"), ("export", "export_stage")):  # fmt: skip
        setattr(pipeline_mod, attr, measure(stage, getattr(pipeline_mod, attr)))
    summary: dict = {}
    with prefect_test_harness(server_startup_timeout=300):
        start = time.perf_counter()
        try:
            summary = pipeline_mod.pipeline(config=config)
        except _StopRun:
            pass
    seconds = time.perf_counter() - start
    from taskmill.store import RunStore

    store = RunStore(os.path.join(work, "runs", os.listdir(os.path.join(work, "runs"))[0]))
    stages = store.manifest()["stages"]
    print(json.dumps({"peak_rss_gb": peak_gb(), "phases": phases, "requests": stream.stats.requests, "seconds": seconds,
                      "documents": stages["sources"]["documents"], "stopped_after": stop_after,
                      "records": summary.get("records_per_stage") or {"generated/bonito": stages["generated/bonito"]["rows"]}}))  # fmt: skip
    shutil.rmtree(work, ignore_errors=True)  # 1M documents leave ~1 GB of shards


def _rss_figure(docs: int, stop_after: str | None) -> dict:
    extra = ["--rss-stop-after", stop_after] if stop_after else []
    child = subprocess.run([sys.executable, __file__, "--rss-child", str(docs), *extra], capture_output=True, text=True)
    if child.returncode:
        raise SystemExit(f"RSS child ({docs} documents) failed:\n{child.stderr[-4000:]}")
    rss = json.loads(child.stdout.strip().splitlines()[-1])
    p = rss["phases"]
    print(f"RSS child: {rss['documents']} documents, {rss['requests']} requests, whole run {rss['seconds']:.0f}s; "
          f"peak RSS {rss['peak_rss_gb']:.2f} GB; peak so far at the end of each stage: "
          + ", ".join(f"{stage} {p[f'after_{stage}']:.2f} GB ({p[f'{stage}_end_s']:.0f}s)"
                      for stage in ("sources", "generate", "curate", "select", "export") if f"after_{stage}" in p)
          + f"; before the run (imports) {p['before_run']:.2f} GB; records {rss['records']}")  # fmt: skip
    return rss


def _docs_label(docs: int) -> str:
    return f"{docs // 1_000_000}m" if docs % 1_000_000 == 0 else f"{docs // 1000}k" if docs % 1000 == 0 else str(docs)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--docs", type=int, default=100)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--max-num-seqs", type=int, default=64)
    parser.add_argument("--rss-docs", type=int, nargs="+", default=[100_000, 1_000_000], help="document counts of the RSS runs")
    parser.add_argument("--quick", action="store_true", help="40 documents, 32 tokens, 10k documents for RSS")
    parser.add_argument("--skip-run", action="store_true", help="only the RSS figure")
    parser.add_argument("--rss-stop-after", choices=["sources", "generate", "curate", "select"], help="end the RSS runs after this stage")
    parser.add_argument("--rss-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rss_child:
        rss_child(args.rss_child, args.rss_stop_after)
        return
    if args.quick:
        args.docs, args.max_tokens, args.rss_docs = 40, 32, [10_000]
    load = os.getloadavg()[0]
    figures = []
    if not args.skip_run:
        m = pipeline_phase(args)
        run_tps, raw_tps = m["run_tokens"] / m["run_seconds"], m["raw_tokens"] / m["raw_seconds"]
        print(f"run: {m['requests']} requests, {m['run_tokens']} tokens in {m['run_seconds']:.1f}s = {run_tps:.1f} tok/s; "
              f"raw: {m['raw_tokens']} tokens in {m['raw_seconds']:.1f}s = {raw_tps:.1f} tok/s; records {m['records']}")  # fmt: skip
        print(f"engine busy {m['busy_fraction']:.3f} (driver view {m['driver_busy_fraction']:.3f}), "
              f"mean in flight {m['mean_in_flight']:.1f} of {m['max_in_flight']}")  # fmt: skip
        figures += [
            ("pipeline_tokens_ratio", run_tps / raw_tps, "ratio", "raw vllm.LLM.generate on the run's prompts", 0.90),
            ("engine_busy_fraction", m["busy_fraction"], "fraction", "generate-phase wall time", 0.98),
            ("engine_mean_in_flight", m["mean_in_flight"], "requests", f"max_in_flight {m['max_in_flight']}", None),
        ]
    for docs in args.rss_docs:
        rss = _rss_figure(docs, args.rss_stop_after)
        label = _docs_label(docs)
        if not args.rss_stop_after:
            figures.append((f"pipeline_peak_rss_gb_{label}_docs", rss["peak_rss_gb"], "GB", "scripted engine, whole run (sources to export)", 2.0))
        figures.append((f"generate_peak_rss_gb_{label}_docs", rss["phases"]["after_generate"], "GB", "scripted engine, sources + generate", 2.0))
    print(f"machine load (1-min average) at start: {load:.2f} on {os.cpu_count()} CPUs; now {os.getloadavg()[0]:.2f}")
    for name, value, unit, baseline, goal in figures:
        print(json.dumps({"metric": name, "value": round(value, 4), "unit": unit, "baseline": baseline, "goal": goal}))


if __name__ == "__main__":
    main()
