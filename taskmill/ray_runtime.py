"""Start or join Ray once per process.

Local by default; a cluster address from the config (or RAY_ADDRESS) joins a
cluster instead. The dashboard and usage stats stay off: nothing to reach.

Ray 2.60 cannot bind its gRPC servers (GCS, raylet, object manager) to
loopback: they listen on all interfaces, and `--node-ip-address 127.0.0.1` is
replaced by the machine's address. What keeps a local run private is Ray's
token authentication, on by default for clusters Ray starts; taskmill asks for
it explicitly (`RAY_AUTH_MODE=token`), which is also what a process joining a
2.60 cluster needs: without it the join hangs a minute, then "Failed to
connect" (infra/README.md).
"""

from __future__ import annotations

import os


def ensure_ray(address: str | None = None, num_cpus: int | None = None) -> None:
    import ray

    if ray.is_initialized():
        return
    address = address or os.environ.get("RAY_ADDRESS")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("RAY_AUTH_MODE", "token")  # token from RAY_AUTH_TOKEN or ~/.ray/auth_token; joins no-auth clusters too
    kwargs: dict = {"ignore_reinit_error": True, "log_to_driver": True}
    if address:
        ray.init(address=address, **kwargs)
    else:
        ray.init(num_cpus=num_cpus, include_dashboard=False, **kwargs)
