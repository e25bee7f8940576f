"""Multi-node Ray on one machine: a config runs on a 2-node `ray start` cluster, and survives losing a node.

Each cluster lives in a child process (tests/ops/cluster.py): a process joins one
Ray only, and this session's tests share a local Ray (`ray_local`). The flow is
the real Prefect flow (the session's test API) with the scripted engine inside
real engine actors.
"""

from __future__ import annotations

import shutil
import tempfile

import pytest

import cluster

pytestmark = pytest.mark.slow


def test_config_on_a_two_node_ray_start_cluster_runs_on_both_nodes(tmp_path, prefect_harness):
    """infra/README.md's steps (token auth, no dashboard): the engine actor lands on the worker, SQL tasks on both."""
    from prefect.settings import PREFECT_API_URL

    temp_dir = tempfile.mkdtemp(prefix="tm-ray-")  # short: Ray's socket paths must stay under 107 bytes
    nodes = cluster.RayStartCluster(temp_dir, head_cpus=1, worker_cpus=2, worker_resources={"engine_node": 1})
    try:
        nodes.start()
        # The run gets the token but not RAY_AUTH_MODE: taskmill turns token mode on itself when joining.
        result = cluster.run_child("two-node", str(tmp_path / "runs"), nodes.address, env={**nodes.env, "PREFECT_API_URL": PREFECT_API_URL.value()},
                                   unset=("RAY_AUTH_MODE",))
    finally:
        nodes.stop()
        shutil.rmtree(temp_dir, ignore_errors=True)
    assert len(result["nodes"]) == 2
    (worker,) = [node for node, resources in result["nodes"].items() if "engine_node" in resources]
    (head,) = set(result["nodes"]) - {worker}
    assert result["actor_nodes"] == [worker]
    # one CPU per SQL task, one free CPU on each node (the actor holds the worker's other one): both nodes ran shards
    assert result["sql_nodes"] == sorted([head, worker])
    assert {"records.parquet", "messages.jsonl", "README.md"} <= set(result["export"])


def test_removing_the_engine_node_mid_stage_restarts_the_actor_elsewhere_and_the_export_is_identical(tmp_path, prefect_harness):
    from prefect.settings import PREFECT_API_URL

    result = cluster.run_child("failover", str(tmp_path / "runs"), env={"PREFECT_API_URL": PREFECT_API_URL.value()})
    assert result["actor_before"] == result["node_a"]
    assert result["actor_after"] == result["node_b"]
    assert result["resent"] >= 1, "the node went with no request in flight"
    assert result["export_files"] > 5 and result["differing"] == []
