"""Kill-and-resume harness shared by tests/ops/test_chaos.py and bench/resume.py.

A run is `python tests/ops/chaos.py CONFIG` in its own process group: the real
flow (Prefect API given by PREFECT_API_URL, Ray cluster by `ray.address`), with
the engine factory answering from a deterministic script (a pure function of
the prompt, so a rerun regenerates the same bytes) with a small per-request
delay so SIGKILLs land inside generation as well as in the later stages.
The child prints `READY <time>` once its imports are done; kill points are
measured from there.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
# Seconds of scripted engine time per request; bench/resume.py raises it (with more documents) so that
# generation, not start-up, is most of a run, as in a real one.
REQUEST_DELAY_S = float(os.environ.get("TASKMILL_CHAOS_REQUEST_DELAY_S", "0.05"))

DOCS = [
    "The city library opens at nine in the morning and closes at six in the evening on weekdays. On Saturdays it closes at two.",
    "Honey bees collect nectar from flowers and store it in wax cells; fanning their wings evaporates the water.",
    "A lighthouse keeper once lived on the island year round. Today the light is automatic and the cottage is a museum.",
    "Copper conducts electricity well and resists corrosion, so it is used in household wiring and water pipes.",
    "The marathon route follows the river for twenty kilometres before climbing into the old town.",
    "Rainfall in the valley is highest in November, so farmers plant winter wheat in October.",
    "The museum's east wing holds Roman coins found in the river bed during the bridge works of 1962.",
    "Tea plants grow best on well-drained slopes with steady rain and cool nights.",
]


TABLE = """city,country,population_millions,area_km2,founded
Lisbon,Portugal,0.55,100,1147
Porto,Portugal,0.23,41,1123
Madrid,Spain,3.3,604,865
Seville,Spain,0.68,140,1248
Lyon,France,0.52,48,1032
Nantes,France,0.32,65,1203
Turin,Italy,0.85,130,1280
Genoa,Italy,0.56,243,1099
"""


def chaos_docs(count: int) -> list[str]:
    """`count` distinct documents: DOCS, then DOCS again with a numbered note (distinct ids and prompts)."""
    return [DOCS[i % len(DOCS)] + ("" if i < len(DOCS) else f" (Note {i}.)") for i in range(count)]


def chaos_config(run_root: str, ray_address: str | None, docs: int = len(DOCS)) -> dict:
    """A small config: Bonito (scripted engine, docs/2 shards) and SQL on one CSV table; MinHash off (its JIT start-up dominates)."""
    os.makedirs(run_root, exist_ok=True)
    table = os.path.join(run_root, "cities.csv")
    with open(table, "w", encoding="utf-8") as f:
        f.write(TABLE)
    return {
        "name": "chaos",
        "run_root": run_root,
        "seed": 11,
        "ray": {"address": ray_address},
        "sources": [{"kind": "inline", "texts": chaos_docs(docs)}],
        "generators": [
            {"method": "bonito", "prompted_format": "json", "shard_size": 2, "tasks": {"qa": None, "ynqa": None}},
            {"method": "sql_exec", "sources": [{"path": table}], "tasks_per_table": 12, "shard_size": 4},
        ],
        "curation": {"minhash": {"enabled": False}},
        "selection": {"method": "none"},
        "export": {"formats": ["messages", "alpaca", "sharegpt"], "dataset_name": "chaos"},
    }


def scripted_answer(request, index: int) -> str:
    """A reply that depends only on the prompt and sample index: JSON when a schema is asked for, else Bonito's pipe form."""
    digest = hashlib.sha256(f"{request.prompt_key()}#{index}".encode()).hexdigest()
    instruction, response = f"{{{{context}}}}\n\nWhat does the passage say about item {digest[:6]}?", f"It says {digest[6:14]}."
    if getattr(request, "json_schema", None):
        return json.dumps({"instruction": instruction, "response": response})
    return f"{instruction}\n<|pipe|>\n{response}"


def _child(config_path: str) -> int:
    from taskmill.engine import factory
    from taskmill.engine.scripted import ScriptedEngine

    # Each request answers REQUEST_DELAY_S after it is submitted, up to the engine's in-flight limit at once
    # (the streaming path calls submit(); a slower generate() alone would never be called).
    factory.make_engine = lambda settings: ScriptedEngine(
        scripted_answer, model_name="scripted-chaos", delay=lambda request: REQUEST_DELAY_S, record=False
    )
    from taskmill.cli import main

    print(f"READY {time.time()}", flush=True)
    return main(["run", config_path])


def start(config_path: str, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, __file__, config_path], env={**os.environ, "PYTHONPATH": ROOT, **env}, cwd=ROOT,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )


def wait_ready(proc: subprocess.Popen) -> float:
    for line in proc.stdout:
        if line.startswith("READY "):
            return time.time()
    raise RuntimeError(f"chaos child exited before READY (rc {proc.wait()})")


def run_to_end(config_path: str, env: dict[str, str]) -> tuple[float, str]:
    """Run once uninterrupted; returns (seconds from READY to exit, output)."""
    proc = start(config_path, env)
    ready = wait_ready(proc)
    out = proc.stdout.read()
    if proc.wait() != 0:
        raise RuntimeError(f"chaos run failed:\n{out[-4000:]}")
    return time.time() - ready, out


def run_and_kill(config_path: str, env: dict[str, str], after_s: float) -> bool:
    """Start a run and SIGKILL its process group `after_s` seconds after READY; True if it was still running."""
    proc = start(config_path, env)
    wait_ready(proc)
    try:
        proc.wait(timeout=after_s)
        return False
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        return True


def export_files(export_dir: str) -> dict[str, bytes]:
    """{relative path: bytes} of every file under an export directory."""
    out = {}
    for dirpath, _dirs, names in os.walk(export_dir):
        for name in names:
            path = os.path.join(dirpath, name)
            out[os.path.relpath(path, export_dir)] = open(path, "rb").read()
    return out


def differing(a: dict[str, bytes], b: dict[str, bytes]) -> list[str]:
    return sorted(p for p in set(a) | set(b) if a.get(p) != b.get(p))


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1]))
