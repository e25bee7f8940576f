"""Start or join Ray once per process.

Local by default; a cluster address from the config (or RAY_ADDRESS) joins a
cluster instead. The dashboard and usage stats stay off: nothing to reach.
"""

from __future__ import annotations

import os


def ensure_ray(address: str | None = None, num_cpus: int | None = None) -> None:
    import ray

    if ray.is_initialized():
        return
    address = address or os.environ.get("RAY_ADDRESS")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    from taskmill.logs import ray_logging_level

    # Worker output is forwarded to this process (log_to_driver), where taskmill.logs.RunOutput writes it to
    # the run's logs/engine.log (and to the terminal with -v); Ray's own driver lines show at WARNING unless -v.
    kwargs: dict = {"ignore_reinit_error": True, "log_to_driver": True, "logging_level": ray_logging_level()}
    if address:
        ray.init(address=address, **kwargs)
    else:
        # "local": a Ray of this run's own. Without it, ray.init() joins whatever `ray start` cluster
        # this machine last started (and then refuses num_cpus); joining is what `ray.address` is for.
        ray.init(address="local", num_cpus=num_cpus, include_dashboard=False, **kwargs)
