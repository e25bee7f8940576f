"""Start or join Ray once per process.

Local by default; a cluster address from the config (or RAY_ADDRESS) joins a
cluster instead. The dashboard and usage stats stay off: nothing to reach.

Authentication (Ray 2.60): a cluster Ray starts has token authentication on
(the token in ~/.ray/auth_token), but a process joining one by explicit address
stays in "disabled" mode unless RAY_AUTH_MODE=token is set, and then hangs a
minute before "Failed to connect". So when joining, with RAY_AUTH_MODE unset
and a token on this machine (RAY_AUTH_TOKEN or the file), token mode is turned
on the way Ray itself does it for `address="auto"`. Ray's servers cannot be
bound to loopback in 2.60 (infra/README.md, "Network exposure").
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
        _token_auth_when_joining()
        ray.init(address=address, **kwargs)
    else:
        # "local": a Ray of this run's own. Without it, ray.init() joins whatever `ray start` cluster
        # this machine last started (and then refuses num_cpus); joining is what `ray.address` is for.
        ray.init(address="local", num_cpus=num_cpus, include_dashboard=False, **kwargs)


def _token_auth_when_joining() -> None:
    if "RAY_AUTH_MODE" in os.environ:
        return  # the user chose
    try:
        from ray._private.authentication.authentication_token_setup import maybe_enable_token_auth_if_token_available
    except ImportError:  # another Ray version: its own defaults apply
        return
    # Sets RAY_AUTH_MODE=token (for child processes too) and refreshes Ray's cached config in this one.
    maybe_enable_token_auth_if_token_available(warn_if_disabled=False)
