"""ensure_ray without an address starts a Ray of the run's own, never the machine's last `ray start` cluster."""

from __future__ import annotations

import ray

from taskmill.ray_runtime import ensure_ray


def test_no_address_asks_ray_for_a_new_local_instance(monkeypatch):
    # ray.init() with no address joins the cluster recorded in /tmp/ray/ray_current_cluster when one
    # is up (a user's `ray start`), then refuses num_cpus: a run without ray.address must not do that.
    calls = []
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", lambda **kwargs: calls.append(kwargs))
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    ensure_ray(num_cpus=2)
    assert calls[0]["address"] == "local" and calls[0]["num_cpus"] == 2


def test_an_address_joins_that_cluster(monkeypatch):
    calls = []
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", lambda **kwargs: calls.append(kwargs))
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")  # leave auth as the user chose
    ensure_ray(address="10.0.0.5:6379")
    assert calls[0]["address"] == "10.0.0.5:6379" and "num_cpus" not in calls[0]
