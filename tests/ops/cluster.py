"""Ray harness for the failure and cluster tests (tests/ops/test_actor_restart.py, test_cluster.py).

- `SlowScriptedBuild`: the scripted engine (answers from chaos.scripted_answer) built inside a real
  Ray engine actor, each request taking a fixed time, so kills land with requests in flight.
- `RayStartCluster`: a 2-node cluster on this machine started with `ray start`, flag for flag as
  infra/README.md says (plus `--block`, so that killing its process groups stops it).
- Child runs (`python tests/ops/cluster.py MODE ...`, one process per cluster, since a process
  joins one Ray only): `two-node` runs a config against a `ray start` cluster and reports where
  the engine actor and the SQL shard tasks ran; `failover` runs a config twice on a
  `ray.cluster_utils.Cluster`, the second time removing the engine's node mid-stage.
  Each prints one `RESULT {json}` line.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import chaos  # noqa: E402
from ray import cloudpickle  # noqa: E402

from taskmill.engine.scripted import ScriptedEngine  # noqa: E402

# Ray workers cannot import the test helpers (tests/ops is not on their path): ship them by value.
cloudpickle.register_pickle_by_value(chaos)
cloudpickle.register_pickle_by_value(sys.modules[__name__])
ROOT = chaos.ROOT
RAY = os.path.join(os.path.dirname(sys.executable), "ray")


class SlowScriptedBuild:
    """Builds the scripted engine inside an engine actor; every request takes `seconds`."""

    def __init__(self, seconds: float = 0.25):
        self.seconds = seconds

    def __call__(self, settings):
        seconds = self.seconds
        return ScriptedEngine(chaos.scripted_answer, model_name="scripted-actor", delay=lambda _request: seconds, record=False)


def kill_when(engine, stream, results: int, how) -> threading.Thread:
    """Run `how()` once `results` requests are back and others are in flight on the engine's actors."""

    def watch() -> None:
        deadline = time.time() + 120
        while time.time() < deadline:
            if stream.stats.requests >= results and sum(engine.in_flight) > 0:
                how()
                return
            time.sleep(0.01)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RayStartCluster:
    """Head + one worker node on this machine via `ray start` (infra/README.md), with its own token and temp dir."""

    def __init__(self, temp_dir: str, head_cpus: int = 1, worker_cpus: int = 2, worker_resources: dict | None = None):
        self.temp_dir = temp_dir
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        # Every process of this cluster (nodes, drivers, workers) shares one token; PYTHONPATH: this checkout.
        self.env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32),
                    "RAY_USAGE_STATS_ENABLED": "0", "PYTHONPATH": ROOT}
        common = ["--disable-usage-stats", "--block"]
        self.commands = [
            [RAY, "start", "--head", f"--port={self.port}", f"--num-cpus={head_cpus}", "--include-dashboard=false",
             f"--ray-client-server-port={free_port()}", f"--temp-dir={temp_dir}", *common],
            [RAY, "start", f"--address={self.address}", f"--num-cpus={worker_cpus}",
             f"--resources={json.dumps(worker_resources or {})}", *common],
        ]
        self.procs: list[subprocess.Popen] = []

    def start(self, timeout_s: float = 120) -> None:
        log = open(os.path.join(self.temp_dir, "ray-start.log"), "ab")
        for command in self.commands:
            self.procs.append(subprocess.Popen(command, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
            self._wait_nodes(len(self.procs), timeout_s)

    def _wait_nodes(self, count: int, timeout_s: float) -> None:
        deadline = time.time() + timeout_s
        while time.time() < deadline:
            status = subprocess.run([RAY, "status", f"--address={self.address}"], env=self.env, capture_output=True, text=True)
            active = status.stdout.split("Pending:")[0].count(" node_") if status.returncode == 0 else 0
            if active >= count:
                return
            if any(p.poll() is not None for p in self.procs):
                raise RuntimeError(f"ray start exited: see {self.temp_dir}/ray-start.log")
            time.sleep(1)
        raise TimeoutError(f"{count} Ray nodes not up after {timeout_s} s")

    def stop(self) -> None:
        for proc in reversed(self.procs):  # each `ray start --block` leads its own process group
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()


def _install_scripted_actor_engine(seconds: float) -> dict:
    """The flow's engine factory builds RayVLLMEngine actors hosting the scripted engine; returns the engines built."""
    from taskmill.engine import factory
    from taskmill.engine.ray_backend import RayVLLMEngine

    built: dict = {}

    def make(settings):
        built["engine"] = RayVLLMEngine(settings, build=SlowScriptedBuild(seconds))
        return built["engine"]

    factory.make_engine = make
    return built


def cluster_config(run_root: str, address: str | None) -> dict:
    """chaos_config with the engine on nodes that offer `engine_node` and one CPU per SQL task."""
    config = chaos.chaos_config(run_root, address)
    config["engine"] = {"actor_resources": {"engine_node": 1}, "max_actor_restarts": 2}
    config["ray"]["task_cpus"] = 1
    return config


def _two_node(run_root: str, address: str) -> dict:
    """Run the config against a running cluster; report the nodes, the actor's node and the SQL tasks' nodes."""
    import ray

    from flows import generate
    from flows.pipeline import pipeline

    nodes_file = os.path.join(run_root, "sql-task-nodes.txt")
    plain = generate.run_symbolic_shard

    def recording(shard, config, run_seed):
        with open(nodes_file, "a", encoding="utf-8") as f:
            f.write(ray.get_runtime_context().get_node_id() + "\n")
        time.sleep(1.0)  # shards overlap: with one free CPU per node, two at once must run on both nodes
        return plain(shard, config, run_seed)

    generate.run_symbolic_shard = recording  # the flow looks it up at call time
    built = _install_scripted_actor_engine(0.02)
    summary = pipeline(config=cluster_config(run_root, address))
    with open(nodes_file, encoding="utf-8") as f:
        sql_nodes = sorted(set(f.read().split()))
    nodes = {n["NodeID"]: n["Resources"] for n in ray.nodes() if n["Alive"]}
    return {"nodes": nodes, "actor_nodes": [p["node_id"] for p in built["engine"].placement()],
            "sql_nodes": sql_nodes, "export": os.listdir(os.path.join(summary["run_dir"], "export"))}


def _failover(run_root: str) -> dict:
    """Head + node A (engine) + node B (engine): an uninterrupted run, then one that loses node A mid-stage."""
    import ray
    from ray.cluster_utils import Cluster

    from flows.pipeline import pipeline
    from taskmill.config import parse_config
    from taskmill.engine.factory import get_engine, get_streaming_engine

    fast_failure_detection = {"health_check_initial_delay_ms": 0, "health_check_period_ms": 500, "health_check_failure_threshold": 3}
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "_system_config": fast_failure_detection})
    try:
        node_a = cluster.add_node(num_cpus=1, resources={"engine_node": 1})
        ray.init(address=cluster.address)
        cluster.wait_for_nodes()
        _install_scripted_actor_engine(1.0)
        config = cluster_config(run_root, cluster.address)
        config["generators"] = config["generators"][:1]  # Bonito: all its requests go through the engine actor
        cfg = parse_config(config)
        engine, stream = get_engine(cfg.engine), get_streaming_engine(cfg.engine)
        stream.max_in_flight = 2  # waves of 2 one-second requests: the stage outlasts the node's removal
        reference = chaos.export_files(os.path.join(pipeline(config=config)["run_dir"], "export"))
        shutil.rmtree(cfg.run_dir)

        (before,) = engine.placement()
        node_b = cluster.add_node(num_cpus=1, resources={"engine_node": 1})
        cluster.wait_for_nodes()
        stream.stats.requests = 0
        watcher = kill_when(engine, stream, 2, lambda: cluster.remove_node(node_a, allow_graceful=False))
        start = time.time()
        summary = pipeline(config=config)
        watcher.join(timeout=1)
        (after,) = engine.placement()
        return {
            "differing": chaos.differing(reference, chaos.export_files(os.path.join(summary["run_dir"], "export"))),
            "export_files": len(reference), "resent": engine.resent, "interrupted_run_s": round(time.time() - start, 1),
            "node_a": node_a.node_id, "node_b": node_b.node_id, "actor_before": before["node_id"], "actor_after": after["node_id"],
        }
    finally:
        ray.shutdown()
        cluster.shutdown()


def run_child(mode: str, *args: str, env: dict | None = None, unset: tuple[str, ...] = (), timeout: int = 300) -> dict:
    """Run one child mode in its own process (`unset`: variables removed from its environment); returns its RESULT."""
    child_env = {key: value for key, value in {**os.environ, "PYTHONPATH": ROOT, **(env or {})}.items() if key not in unset}
    done = subprocess.run([sys.executable, os.path.abspath(__file__), mode, *args], env=child_env,
                          cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    raise RuntimeError(f"{mode} child failed (rc {done.returncode}):\n{(done.stdout + done.stderr)[-6000:]}")


if __name__ == "__main__":
    mode, rest = sys.argv[1], sys.argv[2:]
    result = _two_node(*rest) if mode == "two-node" else _failover(*rest)
    print("RESULT " + json.dumps(result), flush=True)
